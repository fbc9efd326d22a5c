// A vitest setupFiles entry (vitest.config.ts): every test file's fetch checks the
// responses of the services it starts against the OpenAPI document (contract.ts).
import { installContractCheck } from './contract.js';

installContractCheck();
