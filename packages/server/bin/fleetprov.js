#!/usr/bin/env node
// The AWS SDK (used by the admin commands) warns about Node 20 on every run; the CLI supports Node >= 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main, exitQuietlyOnClosedPipe } = await import('../dist/src/cli/main.js');
// `fleetprov … | head`: a reader that stops early ends the process quietly (status 0).
exitQuietlyOnClosedPipe();
main(process.argv).then((code) => {
  process.exitCode = code;
});
