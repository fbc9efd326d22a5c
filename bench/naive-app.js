// The naive design the benchmark compares against: on every request, a Basic check with
// a database round trip, a SELECT of the media row, and getSignedUrl (which rebuilds the
// SDK's middleware stack each call).
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import Koa from 'koa';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const s3 = new S3Client({
  region: 'us-east-1',
  endpoint: process.env.S3_ENDPOINT,
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
const app = new Koa();
const router = new Router();
router.get('/v1/accounts/:accountSid/media/:mediaSid', async (ctx) => {
  const header = ctx.get('Authorization');
  const [user, password] = Buffer.from(header.slice(6), 'base64').toString().split(':');
  const { rows: tokens } = await pool.query('SELECT token_hash FROM auth_tokens WHERE account_sid = $1', [user]);
  const digest = createHash('sha256').update(password ?? '').digest();
  if (user !== ctx.params.accountSid || !tokens.some((t) => timingSafeEqual(t.token_hash, digest))) ctx.throw(401);
  const { rows } = await pool.query('SELECT object_key FROM media WHERE sid = $1 AND account_sid = $2', [ctx.params.mediaSid, user]);
  if (!rows[0]) ctx.throw(404);
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: process.env.S3_BUCKET, Key: rows[0].object_key }), { expiresIn: 14400 });
  ctx.set('Cache-Control', 'private, no-store');
  ctx.redirect(url);
});
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('listening\n'));
