#!/usr/bin/env node
// `npm run openapi`: writes the API reference from the built code (dist/, which the npm
// script builds first): docs/openapi.json, and the types generated from it
// (console/api-types.d.ts, imported by the console and the tests). Both are committed; a
// unit test fails when either differs from what the code generates.
import { writeFile } from 'node:fs/promises';
import { referenceDocumentText } from '../dist/http/openapi.js';
import { API_TYPES_FILE, apiTypesText } from './openapi-types.js';

const documentText = referenceDocumentText();
await writeFile(new URL('../docs/openapi.json', import.meta.url), documentText);
await writeFile(new URL(`../${API_TYPES_FILE}`, import.meta.url), await apiTypesText(JSON.parse(documentText)));
process.stdout.write(`wrote docs/openapi.json and ${API_TYPES_FILE}\n`);
