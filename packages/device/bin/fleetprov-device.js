#!/usr/bin/env node
import { main, exitQuietlyOnClosedPipe } from '../dist/src/cli/main.js';
// `fleetprov-device … | head`: a reader that stops early ends the process quietly (status 0).
exitQuietlyOnClosedPipe();
main(process.argv).then((code) => {
  process.exitCode = code;
});
