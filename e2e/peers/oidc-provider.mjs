// A certified OpenID provider (panva/node-oidc-provider) on loopback, with
// the small configuration the kiosk's identity conformance tests run
// against: authorization code with PKCE (S256) required, pushed
// authorization requests, the device authorization grant, revocation and
// RP-initiated logout; a public kiosk client and a private_key_jwt one.
//
// Environment:
//   KIOSK_REDIRECT   the kiosk's callback URL (required)
//   KIOSK_CLIENT     public client ID (default "kiosk")
//   KIOSK_JWK        public JWK (JSON) of the private_key_jwt client
//                    "<KIOSK_CLIENT>-pkjwt" (optional)
//   PORT             port on 127.0.0.1 (default 0: any free port)
//
// Prints one JSON line {"issuer": "..."} on stdout once listening; exits
// when stdin closes or on SIGTERM/SIGINT. The dev interactions (login form:
// any login, where the login is the citizen ID; consent form) are what the
// tests complete with plain form posts.
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const redirect = process.env.KIOSK_REDIRECT;
if (!redirect) {
  console.error('KIOSK_REDIRECT is required');
  process.exit(2);
}
const clientID = process.env.KIOSK_CLIENT || 'kiosk';

// Fictional citizens (the same as the reference provider's test citizens).
const citizens = {
  '1103700123458': {
    name: 'สมชาย ใจดี', given_name: 'สมชาย', family_name: 'ใจดี', birthdate: '1985-03-14',
    phone_number: '+66812345678', id_profile: 'th',
    address: { formatted: '99/1 ถนนพหลโยธิน แขวงสามเสนใน เขตพญาไท กรุงเทพมหานคร 10400' },
  },
  '049190012345': {
    name: 'Nguyễn Thị Hồng Nhung', given_name: 'Thị Hồng Nhung', family_name: 'Nguyễn', birthdate: '1990-11-02',
    phone_number: '+84905123456', id_profile: 'vn',
    address: { formatted: 'Thôn 3, xã Điện Hồng, thị xã Điện Bàn, tỉnh Quảng Nam' },
  },
};

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJWK = { ...privateKey.export({ format: 'jwk' }), kid: 'conformance-1', use: 'sig', alg: 'ES256' };

const common = {
  redirect_uris: [redirect],
  response_types: ['code'],
  grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
  id_token_signed_response_alg: 'ES256',
};
const clients = [{ ...common, client_id: clientID, token_endpoint_auth_method: 'none' }];
if (process.env.KIOSK_JWK) {
  clients.push({
    ...common,
    client_id: `${clientID}-pkjwt`,
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [JSON.parse(process.env.KIOSK_JWK)] },
  });
}

const server = createServer();
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [signingJWK] },
    cookies: { keys: ['conformance-cookie-key-not-secret'] },
    pkce: { required: () => true },
    responseTypes: ['code'],
    scopes: ['openid', 'profile', 'address', 'phone', 'offline_access'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'birthdate', 'pid', 'id_profile'],
      address: ['address'],
      phone: ['phone_number'],
    },
    // The kiosk reads the citizen from the ID token, not from userinfo.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
    },
    async findAccount(ctx, id) {
      const c = citizens[id];
      if (!c) return undefined;
      return { accountId: id, claims: () => ({ sub: id, pid: id, ...c }) };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
