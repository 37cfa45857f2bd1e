// Random requests with PII planted in them, and the policies they are sent under, for the data
// sovereignty suite (tests/integration/sovereignty.test.mjs):
//   - PII value makers with correct checksums (Luhn cards, GB 11643 resident IDs, mod-97 IBANs),
//     near misses that fail them, and the forms people write them in;
//   - two policies as data, written out as TOML for dsgw and evaluated by a small model here that
//     predicts a request's class, where it may go and which backend should answer;
//   - generateRequest(), which plants values in messages, content parts, tools, metadata and user.
// Every maker draws from an Rng (rng.mjs) it is given, so a failing run replays from its seed.

// The four backends, in config order. Each is named after its jurisdiction; the policies name them.
export const kBackends = ['site', 'lan', 'eu', 'cn'];

const kUpper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const kLower = 'abcdefghijklmnopqrstuvwxyz';
const kDigits = '0123456789';
const kAlnum = kUpper + kLower + kDigits;
const kBase64 = `${kAlnum}+/`;

// --- PII generators: each returns the text to plant; valid ones have correct checksums ------------

const fullWidth = (s) => s.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))).replace(/X/g, '\uff38');

export function luhnCheckDigit(payload) {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = Number(payload[payload.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

// Real issuer prefixes (IIN ranges) and the lengths each network issues.
const kCardIssuers = [
  { prefix: (r) => '4', lengths: [16, 16, 13, 19] },                          // Visa
  { prefix: (r) => String(r.int(51, 55)), lengths: [16] },                    // Mastercard
  { prefix: (r) => String(r.int(2221, 2720)), lengths: [16] },                // Mastercard 2-series
  { prefix: (r) => r.pick(['34', '37']), lengths: [15] },                     // Amex
  { prefix: (r) => '62', lengths: [16, 17, 19] },                             // UnionPay
  { prefix: (r) => r.pick(['6011', '65']), lengths: [16] },                   // Discover
  { prefix: (r) => String(r.int(3528, 3589)), lengths: [16] },                // JCB
  { prefix: (r) => '36', lengths: [14] },                                     // Diners
];
const kCardGroups = { 13: [4, 4, 5], 14: [4, 6, 4], 15: [4, 6, 5], 16: [4, 4, 4, 4], 17: [4, 4, 4, 4, 1], 19: [4, 4, 4, 4, 3] };
const kSameLineSeps = [' ', '-', '\u00a0', '\u3000', '\uff0d'];
const kLineBreaks = ['\n', '\r\n', ' \n    ', '\n\t'];

export function cardNumber(r, { valid }) {
  const issuer = r.pick(kCardIssuers);
  // A near miss of 17 or 19 digits could hold a valid 16-digit card in its first four groups.
  const length = r.pick(valid ? issuer.lengths : issuer.lengths.filter((l) => l <= 16));
  const prefix = issuer.prefix(r);
  const payload = prefix + r.digits(length - 1 - prefix.length);
  const check = luhnCheckDigit(payload);
  return payload + (valid ? check : String((Number(check) + r.int(1, 9)) % 10));
}

// A card number as people write it: compact, grouped with one kind of separator, a line break
// between two groups, full-width digits.
export function formatCard(r, digits) {
  let text = digits;
  const style = r.int(0, 4);
  if (style >= 1) {
    const groups = [];
    let at = 0;
    for (const len of kCardGroups[digits.length]) {
      groups.push(digits.slice(at, at + len));
      at += len;
    }
    const sep = r.pick(kSameLineSeps);
    const seps = groups.slice(1).map(() => sep);
    if (style === 3) seps[r.int(0, seps.length - 1)] = r.pick(kLineBreaks);
    text = groups[0] + groups.slice(1).map((g, i) => seps[i] + g).join('');
  }
  if (style === 4 || r.chance(0.15)) text = fullWidth(text);
  return text;
}

const kResidentRegions = ['110105', '310104', '440305', '320102', '330106', '510107', '420111', '370202'];
const kIdWeights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const kIdChecks = '10X98765432';

export function residentId(r, { valid }) {
  // Near misses use regions that cannot also be read as a card's issuer prefix.
  const region = valid ? r.pick(kResidentRegions) : r.pick(['110105', '310104', '440305']);
  const year = r.int(1950, 2005);
  const month = r.int(1, 12);
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const body = region + String(year) + String(month).padStart(2, '0') + String(r.int(1, days)).padStart(2, '0') + r.digits(3);
  const sum = [...body].reduce((acc, d, i) => acc + Number(d) * kIdWeights[i], 0);
  const check = kIdChecks[sum % 11];
  const wrong = kIdChecks[(sum % 11 + r.int(1, 10)) % 11];
  return body + (valid ? check : wrong);
}

export function formatResidentId(r, id) {
  switch (r.int(0, 4)) {
    case 0: return id;
    case 1: return id.replace('X', 'x');
    case 2: {
      const sep = r.pick([' ', '-']);
      return `${id.slice(0, 6)}${sep}${id.slice(6, 14)}${sep}${id.slice(14)}`;
    }
    case 3: return fullWidth(id);
    default: return fullWidth(id).replace('\uff38', '\uff58'); // full-width lower-case x
  }
}

// [country, BBAN shape]: 'd' a digit, 'A' a capital letter, 'c' a digit or capital.
const kIbanShapes = [
  ['DE', 'dddddddddddddddddd'], ['GB', 'AAAAdddddddddddddd'], ['FR', 'ddddddddddcccccccccccdd'],
  ['NL', 'AAAAdddddddddd'], ['ES', 'dddddddddddddddddddd'], ['IT', 'Addddddddddcccccccccccc'],
  ['CH', 'dddddcccccccccccc'], ['BE', 'dddddddddddd'],
];

export function ibanMod97(text) {
  let rem = 0;
  for (const ch of text) {
    const v = /[0-9]/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const d of v) rem = (rem * 10 + Number(d)) % 97;
  }
  return rem;
}

export function iban(r, { valid }) {
  const [country, shape] = r.pick(kIbanShapes);
  const alphabet = { d: kDigits, A: kUpper, c: kUpper + kDigits };
  const bban = [...shape].map((c) => r.pick(alphabet[c])).join('');
  const check = 98 - ibanMod97(`${bban}${country}00`);
  let digits = check;
  if (!valid) {
    do digits = r.int(2, 98); while (digits === check);
  }
  return `${country}${String(digits).padStart(2, '0')}${bban}`;
}

export function formatIban(r, text) {
  const grouped = r.chance(0.5) ? text.match(/.{1,4}/g).join(' ') : text;
  return r.chance(0.2) ? grouped.toLowerCase() : grouped;
}

const kMailDomains = ['example.com', 'corp.example.cn', 'mail.example.de', 'example-mail.org', 'x.example.co.uk'];

function email(r) {
  const local = r.chars(kLower, r.int(3, 8)) + r.pick(['', '.', '_', '+billing.']) + r.chars(kLower, r.int(2, 6));
  const address = `${local}@${r.pick(kMailDomains)}`;
  return r.pick([address, `<${address}>`, `mailto:${address}`, address.toUpperCase()]);
}

function cnMobile(r) {
  const digits = `1${r.int(3, 9)}${r.digits(9)}`;
  const spaced = (sep) => `${digits.slice(0, 3)}${sep}${digits.slice(3, 7)}${sep}${digits.slice(7)}`;
  return r.pick([
    () => digits, () => spaced(' '), () => spaced('-'), () => `+86 ${digits}`, () => `+86-${spaced('-')}`,
    () => `0086 ${digits}`, () => `86${digits}`, () => fullWidth(digits), () => `\uff0b86 ${digits}`,
    () => `(+86) ${spaced('-')}`,
  ])();
}

function phone(r) {
  return r.pick([
    () => `+44 20 ${r.digits(4)} ${r.digits(4)}`, () => `+1 ${r.int(201, 989)} 555 ${r.digits(4)}`,
    () => `+49 30 ${r.digits(8)}`, () => `+33 1 ${r.digits(2)} ${r.digits(2)} ${r.digits(2)} ${r.digits(2)}`,
    () => `+81-3-${r.digits(4)}-${r.digits(4)}`,
  ])();
}

const awsKey = (r) => `${r.pick(['AKIA', 'ASIA'])}${r.chars(kUpper + kDigits, 16)}`;
const githubToken = (r) => (r.chance(0.8)
  ? `${r.pick(['ghp_', 'gho_', 'ghs_', 'ghu_'])}${r.chars(kAlnum, 36)}`
  : `github_pat_${r.chars(kAlnum, 22)}_${r.chars(kAlnum, 59)}`);

function apiKey(r) {
  const body = () => r.chars(kAlnum, r.int(24, 48)) + r.pick(kDigits) + r.pick(kUpper);
  return r.pick([() => `sk-${body()}`, () => `sk-proj-${body()}`, () => `sk-ant-api03-${body()}`,
    () => `AIza${r.chars(`${kAlnum}_-`, 34)}${r.pick(kAlnum)}`])();
}

const b64url = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function jwt(r) {
  const header = b64url({ alg: r.pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' });
  const payload = b64url({ sub: r.chars(kLower, 8), iat: 1700000000 + r.int(0, 9999999), scope: 'read' });
  return `${header}.${payload}.${r.chars(`${kAlnum}_-`, 43)}`;
}

function pem(r, label) {
  const lines = [];
  for (let i = r.int(3, 8); i > 0; i--) lines.push(r.chars(kBase64, 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`;
}
const kPemLabels = ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'PRIVATE KEY', 'OPENSSH PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'];
const privateKey = (r) => pem(r, r.pick(kPemLabels));

const ipv4 = (r) => `${r.pick(['10', '192', '172'])}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;

// type: the detector's name for it; make(r) → { text, multiline }.
export const kPlantable = {
  credit_card: (r) => ({ text: formatCard(r, cardNumber(r, { valid: true })) }),
  cn_resident_id: (r) => ({ text: formatResidentId(r, residentId(r, { valid: true })) }),
  iban: (r) => ({ text: formatIban(r, iban(r, { valid: true })) }),
  email: (r) => ({ text: email(r) }),
  cn_mobile: (r) => ({ text: cnMobile(r) }),
  phone: (r) => ({ text: phone(r) }),
  aws_access_key: (r) => ({ text: awsKey(r) }),
  github_token: (r) => ({ text: githubToken(r) }),
  api_key: (r) => ({ text: apiKey(r) }),
  jwt: (r) => ({ text: jwt(r) }),
  private_key: (r) => ({ text: privateKey(r), multiline: true }),
  ipv4: (r) => ({ text: ipv4(r) }), // detected, but every policy here ignores it
};
export const kPiiTypes = Object.keys(kPlantable);

// Things that look like PII but are not: the detector must leave them alone.
export const kNearMisses = [
  (r) => formatCard(r, cardNumber(r, { valid: false })),      // fails Luhn
  (r) => formatResidentId(r, residentId(r, { valid: false })), // wrong check character
  (r) => iban(r, { valid: false }),                            // wrong mod-97 check digits
  (r) => `sk-${r.pick(['learn', 'image', 'build'])}-style-kebab-case-names`,
  (r) => `ghp_${r.chars(kAlnum, 30)}`,                          // too short
  (r) => `AKIA${r.chars(kUpper + kDigits, 12)}`,                // too short
  (r) => `1${r.int(0, 2)}${r.digits(9)}`,                       // not a mobile prefix
  (r) => `order #${r.digits(8)}`,
  (r) => `${r.chars(kLower, 5)} at example dot com`,
  (r) => pem(r, r.pick(['PUBLIC KEY', 'CERTIFICATE'])),
  (r) => `version ${r.int(1, 9)}.${r.int(0, 20)}.${r.int(0, 99)}`,
];

const kWords = ['please', 'review', 'the', 'attached', 'quarterly', 'summary', 'and', 'explain', 'why', 'our',
  'latency', 'budget', 'moved', 'between', 'regions', 'customer', 'ticket', 'notes', 'follow', 'up', 'kindly'];
const filler = (r, n) => Array.from({ length: n }, () => r.pick(kWords)).join(' ');

// Ways to wrap a planted value inside a message.
const kWrappers = [
  (r, v) => `${filler(r, r.int(2, 6))}: ${v}. ${filler(r, r.int(1, 4))}`,
  (r, v) => `请核对以下信息：${v}，谢谢。`,
  (r, v) => `Here is the config:\n\`\`\`\n[account]\nvalue = "${v}"\nowner = "ops"\n\`\`\`\n${filler(r, 3)}`,
  (r, v) => `\`\`\`json\n{"customer": {"note": "${v}", "tier": 2}}\n\`\`\``,
  (r, v) => `${filler(r, 3)}\n\n    ${v}\n\n${filler(r, 2)}`,
  (r, v) => `(${v})`,
  (r, v) => `| field | value |\n|---|---|\n| ${r.pick(kWords)} | ${v} |\n`,
  (r, v) => `${r.pick(kWords)}=${v};`,
];
// For fields that dsgw forwards as JSON (tools, metadata, user): one line, nothing to escape.
const kInlineWrappers = [(r, v) => `note ${v} end`, (r, v) => v];

// --- policies, as data: written as TOML for dsgw and evaluated by a small model here -------------

const kSecretsRestricted = {
  credit_card: 'restricted', cn_resident_id: 'restricted', private_key: 'restricted', aws_access_key: 'restricted',
  github_token: 'restricted', api_key: 'restricted',
};
const kDispatchDefaults = {
  prefer: 'order', max_attempts: 3, breaker_failures: 3, breaker_cooldown_ms: 400, retry_base_ms: 5, retry_cap_ms: 20,
};

// A: a rule prefers the foreign clouds for everything, another tries to send restricted data to eu.
export const kPolicyA = {
  name: 'A',
  defaults: { data_class: 'internal', ...kDispatchDefaults },
  classes: [
    ['public', ['site', 'lan', 'eu', 'cn']],
    ['internal', ['site', 'lan', 'eu', 'cn']],
    ['confidential', ['site', 'lan']],
    ['restricted', ['site']],
  ],
  pii: {
    ...kSecretsRestricted, iban: 'restricted', jwt: 'restricted',
    email: 'confidential', cn_mobile: 'confidential', phone: 'confidential', ipv4: 'ignore', ipv6: 'ignore',
  },
  tenants: [{ name: 'team' }, { name: 'vault', data_class: 'confidential' }],
  rules: [
    { id: 'abroad-first', priority: 10, then: { order: ['cn', 'eu', 'lan', 'site'] } },
    {
      id: 'restricted-wants-eu', priority: 20, when: { data_class: ['restricted'] },
      then: { allow: ['eu', 'cn', 'site'], order: ['eu', 'cn', 'site'] },
    },
  ],
};

// B: other jurisdictions per class, other PII mapping, and a rule that allows mobiles only abroad.
export const kPolicyB = {
  name: 'B',
  defaults: { data_class: 'public', ...kDispatchDefaults },
  classes: [
    ['public', ['cn', 'eu', 'lan', 'site']],
    ['internal', ['eu', 'lan', 'site']],
    ['confidential', ['lan', 'site']],
    ['restricted', ['site', 'lan']],
  ],
  pii: {
    ...kSecretsRestricted, iban: 'confidential', jwt: 'confidential',
    email: 'restricted', cn_mobile: 'internal', phone: 'internal', ipv4: 'ignore', ipv6: 'ignore',
  },
  tenants: [{ name: 'team' }, { name: 'vault', data_class: 'internal' }],
  rules: [
    { id: 'cheapest-first', priority: 10, then: { order: ['cn', 'eu', 'site', 'lan'] } },
    {
      id: 'mobiles-abroad', priority: 50, when: { pii: ['cn_mobile'] },
      then: { allow: ['cn', 'eu', 'lan'], order: ['cn', 'eu', 'lan'] },
    },
  ],
};

export function policyToml(p) {
  const q = (v) => JSON.stringify(v);
  const value = (v) => (Array.isArray(v) ? `[${v.map(q).join(', ')}]` : q(v));
  const lines = [`# policy ${p.name}`, '[defaults]', ...Object.entries(p.defaults).map(([k, v]) => `${k} = ${value(v)}`), ''];
  for (const [name, jurisdictions] of p.classes) {
    lines.push('[[class]]', `name = ${q(name)}`, `jurisdictions = ${value(jurisdictions)}`, '');
  }
  lines.push('[pii]', ...Object.entries(p.pii).map(([k, v]) => `${k} = ${q(v)}`), '');
  for (const t of p.tenants) {
    lines.push('[[tenant]]', `name = ${q(t.name)}`, ...(t.data_class ? [`data_class = ${q(t.data_class)}`] : []), '');
  }
  for (const rule of p.rules) {
    lines.push('[[rule]]', `id = ${q(rule.id)}`, `priority = ${rule.priority}`);
    if (rule.when) lines.push('[rule.when]', ...Object.entries(rule.when).map(([k, v]) => `${k} = ${value(v)}`));
    lines.push('[rule.then]', ...Object.entries(rule.then).map(([k, v]) => `${k} = ${value(v)}`), '');
  }
  return `${lines.join('\n')}\n`;
}

// What the policy says about a request: its class, where it may go, and the kept backends in
// dispatch order (backends named in the order list first, in that order).
export function model(policy, { tenant, hint, types }) {
  const rank = (name) => policy.classes.findIndex(([n]) => n === name);
  const tenantClass = policy.tenants.find((t) => t.name === tenant)?.data_class ?? policy.defaults.data_class;
  let classRank = Math.max(rank(tenantClass), hint ? rank(hint) : -1);
  for (const type of types) {
    const cls = policy.pii[type];
    if (cls && cls !== 'ignore') classRank = Math.max(classRank, rank(cls));
  }
  const [className, jurisdictions] = policy.classes[classRank];
  let allow = null;
  let order = null;
  const rules = policy.rules.map((rule, index) => ({ rule, index }))
    .sort((a, b) => b.rule.priority - a.rule.priority || a.index - b.index);
  for (const { rule } of rules) {
    const when = rule.when ?? {};
    if (when.data_class && !when.data_class.includes(className)) continue;
    if (when.pii && !when.pii.some((t) => types.includes(t))) continue;
    if (rule.then.allow) allow = allow ? allow.filter((b) => rule.then.allow.includes(b)) : [...rule.then.allow];
    order ??= rule.then.order;
  }
  const position = (b) => (order?.includes(b) ? order.indexOf(b) : 100 + kBackends.indexOf(b));
  const candidates = kBackends
    .filter((b) => jurisdictions.includes(b) && (!allow || allow.includes(b)))
    .sort((a, b) => position(a) - position(b));
  return { className, jurisdictions, candidates };
}

// --- request generation --------------------------------------------------------------------------

// One random request for `model`, with `tag` (a marker the mocks' records are searched for) in
// its last user message: returns { tag, tenant, hint, hintVia, types, values, body, stream }.
// The tenants are "team" and "vault", as in the policies above.
export function generateRequest(r, policy, { tag, model: modelName }) {
  const tenant = r.chance(0.15) ? 'vault' : 'team';
  const kind = r.next();
  const types = [];
  if (kind < 0.62) {
    // One to three PII types.
    for (let n = r.chance(0.7) ? 1 : r.int(2, 3); n > 0; n--) types.push(r.pick(kPiiTypes));
  }
  const nearMisses = kind >= 0.62 && kind < 0.82 ? r.int(1, 2) : 0; // the rest: clean controls

  const turns = r.int(1, 4);
  const messages = [];
  if (turns >= 2) messages.push({ role: 'system', content: `You are a helpful assistant. ${filler(r, 4)}.` });
  if (turns >= 3) messages.push({ role: 'user', content: `Earlier question: ${filler(r, 6)}?` });
  if (turns >= 4) messages.push({ role: 'assistant', content: `Earlier answer: ${filler(r, 8)}.` });
  messages.push({ role: 'user', content: `${filler(r, r.int(3, 8))} ref ${tag}` });

  const body = { model: modelName, messages };
  const values = [];
  const used = new Set(); // passthrough fields hold one value each
  const plant = (text, multiline) => {
    let where = multiline ? r.int(0, 9) : r.int(0, 12);
    if (used.has(where)) where = r.int(0, 9);
    used.add(where);
    if (where <= 9) {
      // Into a message: prepended or appended, sometimes as content parts.
      const m = r.pick(messages);
      const wrapped = r.pick(kWrappers)(r, text);
      if (typeof m.content === 'string' && r.chance(0.2)) {
        m.content = [{ type: 'text', text: `${m.content}\n` }, { type: 'text', text: wrapped }];
      } else if (typeof m.content === 'string') {
        m.content = r.chance(0.5) ? `${wrapped}\n${m.content}` : `${m.content}\n${wrapped}`;
      } else {
        m.content.push({ type: 'text', text: ` ${wrapped}` });
      }
    } else if (where === 10) {
      const description = r.pick(kInlineWrappers)(r, text);
      const parameters = { type: 'object', properties: {} };
      body.tools = [{ type: 'function', function: { name: 'lookup', description, parameters } }];
    } else if (where === 11) {
      body.metadata = { ...(body.metadata ?? {}), customer_ref: r.pick(kInlineWrappers)(r, text) };
    } else {
      body.user = text;
    }
  };
  for (const type of types) {
    const { text, multiline } = kPlantable[type](r);
    values.push(text);
    plant(text, multiline || /[\n\r]/.test(text));
  }
  for (let n = 0; n < nearMisses; n++) {
    const text = r.pick(kNearMisses)(r);
    plant(text, /[\n\r]/.test(text));
  }

  // Hints: none, a header, or body metadata; PII requests often claim to be public.
  let hint;
  let hintVia;
  const h = r.next();
  if (h < 0.55) {
    hint = types.length > 0 && r.chance(0.5) ? 'public' : r.pick(policy.classes)[0];
    hintVia = h < 0.4 ? 'header' : 'metadata';
    if (hintVia === 'metadata') body.metadata = { ...(body.metadata ?? {}), data_class: hint };
  }
  const stream = r.chance(0.3);
  if (stream) body.stream = true;
  return { tag, tenant, hint, hintVia, types: [...new Set(types)], values, body, stream };
}
