// {{name}}: requests without the configured header get 400; the others go
// on with its value in the context entry `api_version`. build.sh generates
// the bindings and puts this file in the package they call.
package export_portcullis_policy_policy

import (
	"encoding/json"
	"strings"

	"wit_component/portcullis_policy_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

type pair = witTypes.Tuple2[string, string]

var header string

func Phases() []portcullis_policy_types.Phase {
	return []portcullis_policy_types.Phase{portcullis_policy_types.Phase_RequestHeaders}
}

func Configure(config string) witTypes.Result[witTypes.Unit, string] {
	var settings struct {
		Header string `json:"header"`
	}
	if err := json.Unmarshal([]byte(config), &settings); err != nil || settings.Header == "" {
		return witTypes.Err[witTypes.Unit, string]("header: give the header to require")
	}
	header = strings.ToLower(settings.Header)
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

func OnRequest(_ portcullis_policy_types.Phase, req *portcullis_policy_types.Request, ctx *portcullis_policy_types.Context) portcullis_policy_types.Decision {
	// Borrowed handles are given back before the call returns.
	defer req.Drop()
	defer ctx.Drop()
	if value := req.Header(header); value.IsSome() {
		return portcullis_policy_types.MakeDecisionContinue([]portcullis_policy_types.Edit{
			portcullis_policy_types.MakeEditSetEntry(pair{F0: "api_version", F1: value.Some()}),
		})
	}
	body, _ := json.Marshal(map[string]string{"error": "missing " + header})
	return portcullis_policy_types.MakeDecisionDeny(portcullis_policy_types.Denial{
		Status:  400,
		Headers: []pair{{F0: "content-type", F1: "application/json"}},
		Body:    body,
		Reason:  "missing-header",
	})
}

func OnResponse(_ portcullis_policy_types.Phase, req *portcullis_policy_types.Request, resp *portcullis_policy_types.Response, ctx *portcullis_policy_types.Context) portcullis_policy_types.Decision {
	req.Drop()
	resp.Drop()
	ctx.Drop()
	return portcullis_policy_types.MakeDecisionContinue(nil)
}
