import type Router from '@koa/router';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Context } from 'koa';
import { buildOpenApiDocument, type OpenApiOptions } from '../openapi.js';

// The reference page is Swagger UI, from the swagger-ui-dist package in node_modules,
// served by the service itself: nothing comes from a CDN, so it works offline. Chosen
// after loading each candidate in headless Chromium under the CSP below: Swagger UI
// (swagger-ui-bundle.js, 1.7 MB) renders with no inline script or style and no request
// elsewhere; Redoc and RapiDoc, though smaller, inject inline <style> elements (they
// would need style-src 'unsafe-inline'; RapiDoc also loads fonts from Google), and
// Scalar (3.5 MB) calls its own servers. It is kept by SmartBear, released monthly.
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/swagger-ui-bundle.js'));

const DOCS_CSP = [
  "default-src 'self'",
  // Swagger UI's icons are data: URIs in its stylesheet.
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

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

/** GET /openapi.json (this deployment's document) and GET /docs (the page that renders it). */
export function docsRoutes(router: Router, options: OpenApiOptions): void {
  // Built on first use, then kept: it depends on the configuration alone.
  let documentText: string | undefined;

  router.get('/openapi.json', (ctx: Context) => {
    documentText ??= JSON.stringify(buildOpenApiDocument(options));
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = documentText;
  });

  router.get('/docs', (ctx: Context) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = PAGE;
  });

  router.get('/docs/assets/:file', (ctx: Context) => {
    const asset = Object.hasOwn(ASSETS, ctx.params.file!) ? ASSETS[ctx.params.file!] : undefined;
    if (!asset) return; // 404 from the error handler
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = asset.type;
    ctx.body = asset.body ?? createReadStream(asset.file!);
  });
}
