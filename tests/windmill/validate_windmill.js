// Windmill's own validator (npm windmill-yaml-validator) over documents given on stdin:
// a JSON array of {"name", "type": "flow" | "schedule", "doc"}; prints a JSON array of
// {"name", "errors": [...]}. JSON is YAML, so each document is validated as its JSON text.
const { WindmillYamlValidator } = require("windmill-yaml-validator");

const input = require("fs").readFileSync(0, "utf8");
const validator = new WindmillYamlValidator();
const out = JSON.parse(input).map(({ name, type, doc }) => {
  const { errors } = validator.validate(JSON.stringify(doc), { type });
  return {
    name,
    errors: (errors || []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params || {})}`),
  };
});
process.stdout.write(JSON.stringify(out));
