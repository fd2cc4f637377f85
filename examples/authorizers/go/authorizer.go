// The example tenant authorizer in Go (stock Go, GOOS=wasip1): the rules
// are in ../README.md, the cases it must pass in ../cases.json. build.sh
// generates the bindings with `wit-bindgen go` and puts this file in the
// package they call, export_portcullis_policy_policy.
package export_portcullis_policy_policy

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"time"

	"wit_component/portcullis_policy_types"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
)

type (
	phase    = portcullis_policy_types.Phase
	request  = portcullis_policy_types.Request
	response = portcullis_policy_types.Response
	context  = portcullis_policy_types.Context
	decision = portcullis_policy_types.Decision
	edit     = portcullis_policy_types.Edit
	pair     = witTypes.Tuple2[string, string]
)

const skewSeconds = 300

var secret []byte

func Phases() []phase {
	return []phase{portcullis_policy_types.Phase_RequestHeaders}
}

func Configure(config string) witTypes.Result[witTypes.Unit, string] {
	var settings struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(config), &settings); err != nil || len(settings.Secret) < 32 {
		return witTypes.Err[witTypes.Unit, string]("secret: at least 32 bytes")
	}
	secret = []byte(settings.Secret)
	return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{})
}

// 1 to 63 of a-z, 0-9 and '-', not starting with '-'.
func wellFormedTenant(tenant string) bool {
	if len(tenant) < 1 || len(tenant) > 63 || tenant[0] == '-' {
		return false
	}
	for _, c := range []byte(tenant) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func fresh(timestamp string, now int64) bool {
	if len(timestamp) < 1 || len(timestamp) > 10 {
		return false
	}
	var at int64
	for _, c := range []byte(timestamp) {
		if c < '0' || c > '9' {
			return false
		}
		at = at*10 + int64(c-'0')
	}
	diff := at - now
	if diff < 0 {
		diff = -diff
	}
	return diff <= skewSeconds
}

func check(method, path, tenant, timestamp, signature string) string {
	if tenant == "" || timestamp == "" || signature == "" {
		return "missing-credentials"
	}
	if !wellFormedTenant(tenant) {
		return "bad-tenant"
	}
	if !fresh(timestamp, time.Now().Unix()) {
		return "stale-timestamp"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(method + "\n" + path + "\n" + timestamp + "\n" + tenant))
	expected := hex.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(expected), []byte(signature)) != 1 {
		return "bad-signature"
	}
	return ""
}

func OnRequest(_ phase, req *request, ctx *context) decision {
	// Borrowed handles are given back before the call returns.
	defer req.Drop()
	defer ctx.Drop()
	tenant := req.Header("x-tenant").SomeOr("")
	timestamp := req.Header("x-timestamp").SomeOr("")
	signature := req.Header("x-signature").SomeOr("")
	refusal := check(req.Method(), req.Path(), tenant, timestamp, signature)
	// The signature covers the method and path: cached per resource.
	if refusal == "" {
		return portcullis_policy_types.MakeDecisionContinue([]edit{
			portcullis_policy_types.MakeEditSetPrincipal(tenant),
			portcullis_policy_types.MakeEditSetEntry(pair{F0: "tenant", F1: tenant}),
			portcullis_policy_types.MakeEditSetEntry(pair{F0: "portcullis.resource-specific", F1: "true"}),
		})
	}
	return portcullis_policy_types.MakeDecisionDeny(portcullis_policy_types.Denial{
		Status: 401,
		Headers: []pair{
			{F0: "content-type", F1: "application/json"},
			{F0: "www-authenticate", F1: "Custom"},
			{F0: "portcullis-resource-specific", F1: "true"},
		},
		Body:   []byte(`{"error":"unauthorized"}`),
		Reason: refusal,
	})
}

func OnResponse(_ phase, req *request, resp *response, ctx *context) decision {
	req.Drop()
	resp.Drop()
	ctx.Drop()
	return portcullis_policy_types.MakeDecisionContinue(nil)
}
