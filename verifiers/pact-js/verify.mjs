// pact-js's Verifier against one running provider: what tests/verifiers runs, and what
// `nox -s provider` prints. The secret of the state endpoint comes from PACT_STATE_SECRET,
// never from the command line. Exit status 0 when every interaction passed, 1 otherwise.
//
//   node verify.mjs --provider-base-url URL --pact FILE --state-url URL
import { parseArgs } from "node:util";
import { Verifier } from "@pact-foundation/pact";

const { values } = parseArgs({
  options: {
    "provider-base-url": { type: "string" },
    pact: { type: "string" },
    "state-url": { type: "string" },
    provider: { type: "string", default: "UserProvider" },
  },
});
for (const name of ["provider-base-url", "pact", "state-url"]) {
  if (!values[name]) {
    console.error(`verify.mjs: --${name} is required`);
    process.exit(2);
  }
}
const secret = process.env.PACT_STATE_SECRET;

new Verifier({
  provider: values.provider,
  providerBaseUrl: values["provider-base-url"],
  pactUrls: [values.pact],
  providerStatesSetupUrl: values["state-url"],
  // pact-js does not print its own summary: the Rust core's report is the output.
  logLevel: "warn",
  customProviderHeaders: secret ? [`X-Pact-State-Secret: ${secret}`] : [],
})
  .verifyProvider()
  .then(() => {
    console.log("pact-js: every interaction verified");
  })
  .catch((error) => {
    console.error(`pact-js: verification failed: ${error.message ?? error}`);
    process.exit(1);
  });
