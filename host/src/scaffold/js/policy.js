// {{name}}: requests without the configured header get 400; the others go
// on with its value in the context entry `api_version`.

let header = null;

export const policy = {
  phases() {
    return ["request-headers"];
  },

  configure(config) {
    const settings = JSON.parse(config);
    if (typeof settings.header !== "string" || settings.header === "") {
      throw "header: give the header to require";
    }
    header = settings.header.toLowerCase();
  },

  onRequest(phase, request, context) {
    const value = request.header(header);
    if (value !== undefined) {
      return { tag: "continue", val: [{ tag: "set-entry", val: ["api_version", value] }] };
    }
    const body = JSON.stringify({ error: `missing ${header}` });
    return {
      tag: "deny",
      val: {
        status: 400,
        headers: [["content-type", "application/json"]],
        body: new TextEncoder().encode(body),
        reason: "missing-header",
      },
    };
  },

  onResponse(phase, request, response, context) {
    return { tag: "continue", val: [] };
  },
};
