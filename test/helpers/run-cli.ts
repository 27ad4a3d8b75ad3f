// Runs the CLI from the TypeScript sources (no build needed): node --import tsx test/helpers/run-cli.ts ARGS...
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
