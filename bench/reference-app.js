// The framework's limit: bare Koa + @koa/router answering a fixed 302, nothing else.
import Router from '@koa/router';
import Koa from 'koa';

const app = new Koa();
const router = new Router();
const location = 'http://127.0.0.1:9/media-bucket/AC00000000000000000000000000000000/ME00000000000000000000000000000000?X-Amz-Signature=0';
router.get('/v1/accounts/:accountSid/media/:mediaSid', (ctx) => {
  ctx.redirect(location);
});
app.use(router.routes());
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.stderr.write('listening\n'));
// SIGTERM exits normally, so that a --cpu-prof profile is written (bench/profile.js).
process.on('SIGTERM', () => process.exit(0));
