// tus-js-client (the reference tus client) uploading one file to a tus
// endpoint, for the portal's tests.
// Usage: node tus-client.mjs <endpoint> <file> <headers.json> <metadata.json> <chunkSize> <abortAt>
// headers.json: an object of headers sent with every request (the kiosk's
// Kiosk-Id and Kiosk-Signature for creation). metadata.json: the
// Upload-Metadata object, encoded in its key order. If abortAt > 0 the
// upload is aborted once that many bytes went up, then resumed from its URL
// (HEAD, then PATCH from the server's offset). Prints {"url": ...} on
// success; exits 1 with the error on stderr otherwise.
import { readFileSync } from 'node:fs';
import * as tus from 'tus-js-client';

const [endpoint, file, headersJSON, metadataJSON, chunkArg, abortArg] = process.argv.slice(2);
const data = readFileSync(file);
const headers = JSON.parse(headersJSON);
const metadata = JSON.parse(metadataJSON);
const chunkSize = Number(chunkArg) || Infinity;
const abortAt = Number(abortArg) || 0;

function run(options) {
  return new Promise((resolve, reject) => {
    let aborted = false;
    const upload = new tus.Upload(data, {
      ...options,
      headers,
      chunkSize,
      retryDelays: [0, 100, 500],
      onProgress(sent) {
        if (abortAt > 0 && !aborted && !options.uploadUrl && sent >= abortAt) {
          aborted = true;
          upload.abort().then(() => resolve({ aborted: true, url: upload.url }));
        }
      },
      onSuccess() { resolve({ aborted: false, url: upload.url }); },
      onError(err) { reject(err); },
    });
    upload.start();
  });
}

try {
  let res = await run({ endpoint, metadata });
  if (res.aborted) {
    res = await run({ endpoint, metadata, uploadUrl: res.url });
  }
  process.stdout.write(JSON.stringify({ url: res.url, resumed: abortAt > 0 }) + '\n');
} catch (err) {
  console.error(String(err));
  process.exit(1);
}
