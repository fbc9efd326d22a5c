// The physical limit: node:http answering the same fixed 302 as the reference, with no
// framework at all.
import { createServer } from 'node:http';

const location = 'http://127.0.0.1:9/media-bucket/AC00000000000000000000000000000000/ME00000000000000000000000000000000?X-Amz-Signature=0';
createServer((req, res) => {
  res.writeHead(302, { Location: location, 'Content-Length': '0' });
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stderr.write('listening\n'));
// SIGTERM exits normally, so that a --cpu-prof profile is written (bench/profile.js).
process.on('SIGTERM', () => process.exit(0));
