import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Context } from 'koa';
import { route } from '../route.js';

// The reference page is Swagger UI, from the swagger-ui-dist package in node_modules,
// served by the service itself: nothing comes from a CDN, so it works offline. Chosen
// after loading each candidate in headless Chromium under the CSP below: Swagger UI
// (swagger-ui-bundle.js, 1.7 MB) renders with no inline script or style and no request
// elsewhere; Redoc and RapiDoc, though smaller, inject inline <style> elements (they
// would need style-src 'unsafe-inline'; RapiDoc also loads fonts from Google), and
// Scalar (3.5 MB) calls its own servers. It is kept by SmartBear, released monthly.
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/swagger-ui-bundle.js'));

// Scripts and styles from the page's own asset path only: this origin may also serve
// uploaded media (the zero-config store's /v1/blobs/…), which must never run as script.
function docsCsp(base: string): string {
  return [
    "default-src 'none'",
    `script-src ${base}/docs/assets/`,
    `style-src ${base}/docs/assets/`,
    // Swagger UI's icons are data: URIs in its stylesheet.
    "img-src 'self' data:",
    // The document, and "Try it out" against this deployment.
    `connect-src 'self' ${new URL(base).origin}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

// Links are relative (no leading slash) so the page also works behind a path prefix.
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mediagate API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/docs.js"></script>
</body>
</html>
`;

// In a file of its own: under the CSP, an inline script would not run. validatorUrl
// null: Swagger UI would otherwise send the document to validator.swagger.io.
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

const ASSETS: Record<string, { type: string; file?: string; body?: string }> = {
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', file: path.join(SWAGGER_UI_DIR, 'swagger-ui-bundle.js') },
  'swagger-ui.css': { type: 'text/css; charset=utf-8', file: path.join(SWAGGER_UI_DIR, 'swagger-ui.css') },
  'docs.js': { type: 'text/javascript; charset=utf-8', body: INITIALIZER },
};

export interface DocsDeps {
  /** this deployment's OpenAPI document, as JSON text */
  openApiDocument(): string;
  /** where the service's pages are, as their CSP names it (browser-policy.ts) */
  pageBase(ctx: Context): string;
}

/** GET /openapi.json (this deployment's document) and GET /docs (the page that renders it). */
export function docsRoutes() {
  return [
    route({
      method: 'GET',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      tag: 'Reference',
      summary: 'This document',
      auth: 'none',
      answers: { 200: { description: 'OpenAPI 3.1, for this deployment (its `servers` is PUBLIC_BASE_URL).', content: { 'application/json': { schema: { type: 'object' } } } } },
      handle(ctx, _input, deps: DocsDeps) {
        ctx.set('Cache-Control', 'no-cache');
        ctx.type = 'application/json; charset=utf-8';
        ctx.body = deps.openApiDocument();
      },
    }),
    route({
      method: 'GET',
      path: '/docs',
      operationId: 'getDocsPage',
      tag: 'Reference',
      summary: 'This reference as a web page',
      description: 'Rendered by Swagger UI, served by the service itself (works offline, under a self-only Content-Security-Policy).',
      auth: 'none',
      answers: { 200: { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } }, headers: { 'Content-Security-Policy': 'Content-Security-Policy-Page' } } },
      handle(ctx, _input, deps: DocsDeps) {
        ctx.set('Content-Security-Policy', docsCsp(deps.pageBase(ctx)));
        ctx.set('Cache-Control', 'no-cache');
        ctx.set('Referrer-Policy', 'no-referrer');
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = PAGE;
      },
    }),
    route({
      method: 'GET',
      path: '/docs/assets/{File}',
      operationId: 'getDocsAsset',
      tag: 'Reference',
      summary: "The reference page's script and styles",
      auth: 'none',
      answers: { 200: { description: 'The file.', content: { 'text/javascript': { schema: { type: 'string' } }, 'text/css': { schema: { type: 'string' } } } } },
      errors: ['not_found'],
      handle(ctx, { params }) {
        const asset = Object.hasOwn(ASSETS, params.file!) ? ASSETS[params.file!] : undefined;
        if (!asset) return; // 404 from the request cycle
        ctx.set('Cache-Control', 'public, max-age=3600');
        ctx.type = asset.type;
        ctx.body = asset.body ?? createReadStream(asset.file!);
      },
    }),
  ];
}
