// The web pages: plain JavaScript over the public API, nothing it does an API client could not.
// The access token lives only in memory; the refresh token in an HttpOnly cookie the page never
// reads. Everything a user typed is set as text (textContent, attributes), never as HTML.

const state = { access: null, me: null };
// A referral link (`/?ref=CODE`) is read once, whichever page it opens.
const referral = new URLSearchParams(location.search).get('ref') || '';
const main = document.getElementById('main');
const nav = document.getElementById('nav');
const statusLine = document.getElementById('status');

/** An element with attributes and children; strings become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function say(text) { statusLine.textContent = text || ''; }

async function refresh() {
  const r = await fetch('/v1/auth/refresh', { method: 'POST', credentials: 'same-origin' });
  if (!r.ok) { state.access = null; return false; }
  state.access = (await r.json()).access_token;
  return true;
}

/** Calls the API; an expired access token is refreshed once from the cookie. */
async function api(path, { method = 'GET', body, retry = true } = {}) {
  const headers = {};
  if (state.access) headers.authorization = `Bearer ${state.access}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 401 && retry && await refresh()) return api(path, { method, body, retry: false });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const message = data?.error?.message || `${r.status} ${r.statusText}`;
    const e = new Error(message);
    e.status = r.status; e.param = data?.error?.param;
    throw e;
  }
  return data;
}

async function showCredits() {
  try {
    const c = await api('/v1/credit');
    document.getElementById('credits').textContent = `${c.available} credits`;
  } catch { /* shown next time */ }
}

function go(path) {
  history.pushState({}, '', path);
  route();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[href^="/app/"]');
  if (a && !e.metaKey && !e.ctrlKey && !e.shiftKey && e.button === 0) {
    e.preventDefault();
    go(a.getAttribute('href'));
  }
});
window.addEventListener('popstate', () => route());

document.getElementById('signout').addEventListener('click', async () => {
  try { await api('/v1/auth/logout', { method: 'POST', body: {} }); } catch { /* signed out anyway */ }
  state.access = null; state.me = null;
  go('/app/signin');
});

function page(title, ...content) {
  document.title = `${title} · Image API`;
  main.replaceChildren(el('h1', {}, title), ...content);
  main.focus({ preventScroll: true });
}

function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return el('div', {}, el('label', { for: id }, label), input, hint ? el('p', { class: 'hint' }, hint) : null);
}

// ---- sign in / sign up ----------------------------------------------------------------------

function signinView() {
  nav.hidden = true;
  const providers = (document.body.dataset.providers || '').split(',').filter(Boolean);
  const error = el('p', { class: 'error', role: 'alert' });
  const who = el('input', { type: 'text', name: 'login', autocomplete: 'username', required: true });
  const password = el('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const signIn = el('form', {
    'aria-labelledby': 'signin-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      const login = who.value.trim();
      const body = { password: password.value, refresh_token_in: 'cookie' };
      body[login.includes('@') ? 'email' : 'username'] = login;
      try {
        state.access = (await api('/v1/auth/login', { method: 'POST', body, retry: false })).access_token;
        go('/app/library');
      } catch (err) { error.textContent = err.message; }
    },
  }, el('h2', { id: 'signin-h' }, 'Sign in'),
  field('Username or email', who), field('Password', password),
  el('button', { type: 'submit' }, 'Sign in'), error);

  const upError = el('p', { class: 'error', role: 'alert' });
  const username = el('input', { type: 'text', name: 'username', autocomplete: 'username', required: true });
  const email = el('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const newPassword = el('input', { type: 'password', name: 'new-password', autocomplete: 'new-password', required: true, minlength: 8 });
  const signUp = el('form', {
    'aria-labelledby': 'signup-h',
    onsubmit: async (e) => {
      e.preventDefault();
      upError.textContent = '';
      try {
        const body = { username: username.value.trim(), email: email.value.trim(), password: newPassword.value };
        if (referral) body.referral_code = referral;
        await api('/v1/auth/register', { method: 'POST', body, retry: false });
        state.access = (await api('/v1/auth/login', {
          method: 'POST', retry: false,
          body: { username: body.username, password: body.password, refresh_token_in: 'cookie' },
        })).access_token;
        go('/app/library');
      } catch (err) { upError.textContent = err.message; }
    },
  }, el('h2', { id: 'signup-h' }, 'Create an account'),
  field('Username', username), field('Email', email),
  field('Password', newPassword, 'At least 8 characters.'),
  el('button', { type: 'submit' }, 'Sign up'), upError);

  const names = { google: 'Google', microsoft: 'Microsoft', apple: 'Apple' };
  const withProvider = providers.length ? el('div', { class: 'panel' },
    el('h2', {}, 'Or continue with'),
    el('div', { class: 'providers' }, providers.map((p) => el('a', {
      href: `/v1/signin/${encodeURIComponent(p)}?return_to=${encodeURIComponent('/app/library')}${referral ? `&referral_code=${encodeURIComponent(referral)}` : ''}`,
    }, `Sign in with ${names[p] || p}`)))) : null;
  page('Welcome', el('div', { class: 'forms' }, signIn, signUp), withProvider);
}

// ---- library ----------------------------------------------------------------------------------

function libraryView() {
  const type = el('select', { id: 'type' },
    ['all', 'image', 'video', 'upload'].map((t) => el('option', { value: t }, t)));
  const sort = el('select', { id: 'sort' },
    el('option', { value: 'newest' }, 'newest first'), el('option', { value: 'oldest' }, 'oldest first'));
  const grid = el('div', { class: 'grid', id: 'grid' });
  const sentinel = el('div', { class: 'sentinel' });
  const empty = el('p', { class: 'hint' });
  const selected = new Set();
  const remove = el('button', {
    type: 'button', class: 'secondary', disabled: true,
    onclick: async () => {
      if (!confirm(`Delete ${selected.size} selected item(s)?`)) return;
      for (const id of [...selected]) {
        try { await api(`/v1/images/${encodeURIComponent(id)}`, { method: 'DELETE' }); } catch (e) { say(e.message); }
        selected.delete(id);
        grid.querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove();
      }
      remove.disabled = true;
      say('Deleted.');
    },
  }, 'Delete selected');
  let cursor = null; let done = false; let loading = false;

  async function more() {
    if (loading || done) return;
    loading = true;
    try {
      const q = new URLSearchParams({ limit: '24', type: type.value, sort: sort.value });
      if (cursor) q.set('cursor', cursor);
      const pageOf = await api(`/v1/images?${q}`);
      for (const item of pageOf.data) grid.append(tile(item));
      cursor = pageOf.next_cursor; done = !pageOf.has_more;
      empty.textContent = grid.children.length ? '' : 'Nothing here yet: generate something.';
    } catch (e) { say(e.message); done = true; } finally { loading = false; }
    if (!done && sentinel.getBoundingClientRect().top < innerHeight + 400) more();
  }

  function tile(item) {
    const text = item.prompt || item.title || item.kind;
    const box = el('input', {
      type: 'checkbox', 'aria-label': `Select: ${text}`,
      onchange: (e) => {
        if (e.target.checked) selected.add(item.id); else selected.delete(item.id);
        remove.disabled = selected.size === 0;
      },
    });
    return el('figure', { class: 'tile', 'data-id': item.id },
      box,
      el('a', { href: `/app/assets/${encodeURIComponent(item.id)}` },
        el('img', { src: item.thumbnail_url || item.url, alt: text, loading: 'lazy', width: 256, height: 256 })),
      el('figcaption', {}, text));
  }

  function restart() { grid.replaceChildren(); cursor = null; done = false; selected.clear(); remove.disabled = true; more(); }
  type.addEventListener('change', restart);
  sort.addEventListener('change', restart);
  new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) more(); }).observe(sentinel);
  page('Library',
    el('div', { class: 'toolbar' }, field('Type', type), field('Sort', sort), remove),
    empty, grid, sentinel);
  more();
}

// ---- generate ---------------------------------------------------------------------------------

async function generateView() {
  const prompt = el('textarea', { name: 'prompt', required: true, maxlength: 32000 });
  const model = el('select', { name: 'model' });
  const about = el('p', { class: 'hint', id: 'model-info' });
  const size = el('select', { name: 'size' });
  const quality = el('select', { name: 'quality' });
  const n = el('input', { type: 'number', name: 'n', min: 1, max: 10, value: 1 });
  const transparent = el('input', { type: 'checkbox', name: 'transparent' });
  const error = el('p', { class: 'error', role: 'alert' });
  const results = el('div', { class: 'grid results', 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, 'Generate');
  let models = [];

  function pick() {
    const m = models.find((x) => x.id === model.value);
    if (!m) return;
    size.replaceChildren(...m.sizes.map((s) => el('option', { value: s, selected: s === m.default_size }, s)));
    quality.replaceChildren(el('option', { value: '' }, 'default'), ...m.qualities.map((q) => el('option', { value: q }, q)));
    n.max = m.max_n;
    transparent.disabled = m.transparent_background === 'unsupported';
    const cost = Object.entries(m.cost?.per_image || {}).map(([s, c]) => `${s}: ${c}`).join(', ');
    about.textContent = [m.info?.what_is, m.info?.use_cases?.join('; '), m.info?.tips?.join('; '), cost && `Credits per image: ${cost}`]
      .filter(Boolean).join(' · ');
  }
  model.addEventListener('change', pick);

  const form = el('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      submit.disabled = true; say('Generating…');
      const body = { model: model.value, prompt: prompt.value, n: Number(n.value), size: size.value, response_format: 'url' };
      if (quality.value) body.quality = quality.value;
      if (transparent.checked) { body.background = 'transparent'; body.output_format = 'png'; }
      try {
        const r = await api('/v1/images/generations', { method: 'POST', body });
        results.replaceChildren(...r.data.map((d) => el('figure', { class: 'tile' },
          el('a', { href: `/app/assets/${encodeURIComponent(d.id)}` }, el('img', { src: d.url, alt: prompt.value })),
          el('figcaption', {}, prompt.value))));
        say(`Done: ${r.data.length} image(s) in your library.`);
        showCredits();
      } catch (err) { error.textContent = err.message; say(''); } finally { submit.disabled = false; }
    },
  },
  field('Prompt', prompt),
  el('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try { prompt.value = (await api('/v1/prompts/random?n=1')).prompts[0]; } catch (err) { say(err.message); }
    },
  }, 'Random prompt'),
  field('Model', model), about,
  el('div', { class: 'row' }, field('Size', size), field('Quality', quality), field('Images', n)),
  el('label', {}, transparent, ' Transparent background'),
  submit, error);
  page('Generate', form, results);
  try {
    models = (await api('/v1/models')).data.filter((m) => m.kind === 'image' || !m.kind);
    model.replaceChildren(...models.map((m) => el('option', { value: m.id }, m.id)));
    pick();
  } catch (err) { error.textContent = err.message; }
}

// ---- one asset -------------------------------------------------------------------------------

/** Fields each transform takes, with their defaults. */
const OPERATIONS = {
  resize: [['width', 512], ['height', 512]],
  crop: [['x', 0], ['y', 0], ['width', 256], ['height', 256]],
  rotate: [['degrees', 90]],
  flip: [], flop: [], grayscale: [],
  blur: [['sigma', 2]],
  sharpen: [['sigma', 1]],
  brightness: [['factor', 1.2]],
  contrast: [['factor', 1.2]],
  saturation: [['factor', 1.3]],
  hue: [['degrees', 30]],
  gamma: [['value', 1.2]],
  remove_background: [['tolerance', 24]],
};

async function assetView(id) {
  let info;
  try { info = await api(`/v1/images/${encodeURIComponent(id)}`); } catch (e) {
    page('Not found', el('p', {}, e.message), el('a', { href: '/app/library' }, 'Back to the library'));
    return;
  }
  const text = info.prompt || info.title || info.kind;
  const media = info.kind === 'video'
    ? el('video', { controls: true, src: info.url, poster: info.thumbnail_url || false, preload: 'metadata', class: 'asset' })
    : el('img', { src: info.url, alt: text, class: 'asset' });
  const facts = [
    ['Prompt', info.prompt], ['Model', info.model], ['Provider', info.provider],
    ['Size', `${info.width} × ${info.height}`], ['Format', info.format], ['Version', info.version],
    ['Created', new Date(info.created_at * 1000).toLocaleString()],
  ].filter(([, v]) => v !== null && v !== undefined && v !== '');
  const versions = el('ol', { class: 'versions', 'aria-label': 'Versions' });
  api(`/v1/images/${encodeURIComponent(id)}/versions`).then((list) => versions.replaceChildren(
    ...list.data.map((v) => el('li', {}, v.id === info.id
      ? el('strong', { 'aria-current': 'page' }, `Version ${v.version}`)
      : el('a', { href: `/app/assets/${encodeURIComponent(v.id)}` }, `Version ${v.version}`))),
  )).catch((e) => say(e.message));

  const actions = el('div', { class: 'row' },
    el('a', { href: info.url, target: '_blank', rel: 'noopener', download: '' }, 'Download'),
    el('button', {
      type: 'button', class: 'secondary',
      onclick: async () => {
        if (!confirm('Delete this version?')) return;
        try { await api(`/v1/images/${encodeURIComponent(info.id)}`, { method: 'DELETE' }); go('/app/library'); } catch (e) { say(e.message); }
      },
    }, 'Delete this version'));

  const parts = [el('div', { class: 'asset-view' }, media, el('dl', { class: 'facts' },
    facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]))),
  el('h2', {}, 'Versions'), versions, actions];
  if (info.kind !== 'video') parts.push(transformForm(info), editForm(info));
  page(text.length > 60 ? `${text.slice(0, 57)}…` : text, ...parts);
}

function transformForm(info) {
  const op = el('select', { name: 'op' }, Object.keys(OPERATIONS).map((o) => el('option', { value: o }, o.replace('_', ' '))));
  const params = el('div', { class: 'row' });
  const preview = el('div', { class: 'results', 'aria-live': 'polite' });
  const error = el('p', { class: 'error', role: 'alert' });
  function fields() {
    params.replaceChildren(...OPERATIONS[op.value].map(([name, value]) => field(name,
      el('input', { type: 'number', name, value, step: 'any' }))));
  }
  op.addEventListener('change', fields);
  fields();
  const submit = el('button', { type: 'submit' }, 'Apply');
  const form = el('form', {
    'aria-labelledby': 'transform-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = ''; submit.disabled = true;
      const operation = { op: op.value };
      for (const input of params.querySelectorAll('input')) operation[input.name] = Number(input.value);
      try {
        const r = await api(`/v1/images/${encodeURIComponent(info.id)}/transform`, { method: 'POST', body: { operations: [operation] } });
        const made = r;
        preview.replaceChildren(el('figure', { class: 'tile' },
          el('img', { src: made.url, alt: `${op.value} of ${info.prompt || 'the image'}` }),
          el('figcaption', {}, `${op.value}: ${made.width} × ${made.height}`)),
        // The preview is an asset of its own: kept, its content becomes this image's next
        // version and the preview goes; discarded, it just goes.
        el('button', {
          type: 'button',
          onclick: async () => {
            try {
              const version = await api(`/v1/images/${encodeURIComponent(info.id)}`, { method: 'PATCH', body: { image_id: made.id } });
              await api(`/v1/images/${encodeURIComponent(made.id)}`, { method: 'DELETE' });
              go(`/app/assets/${encodeURIComponent(version.id)}`);
            } catch (err) { say(err.message); }
          },
        }, 'Keep as a new version'), ' ',
        el('button', {
          type: 'button', class: 'secondary',
          onclick: async () => {
            try { await api(`/v1/images/${encodeURIComponent(made.id)}`, { method: 'DELETE' }); preview.replaceChildren(); say('Discarded.'); } catch (err) { say(err.message); }
          },
        }, 'Discard'));
      } catch (err) { error.textContent = err.message; } finally { submit.disabled = false; }
    },
  }, el('h2', { id: 'transform-h' }, 'Transform'), field('Operation', op), params, submit, error, preview);
  return form;
}

function editForm(info) {
  const prompt = el('textarea', { name: 'edit-prompt', required: true, maxlength: 32000 });
  const error = el('p', { class: 'error', role: 'alert' });
  const submit = el('button', { type: 'submit' }, 'Make a new version');
  return el('form', {
    'aria-labelledby': 'edit-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = ''; submit.disabled = true; say('Editing…');
      try {
        const r = await api(`/v1/images/${encodeURIComponent(info.id)}`, { method: 'PATCH', body: { prompt: prompt.value } });
        showCredits();
        go(`/app/assets/${encodeURIComponent(r.id)}`);
      } catch (err) { error.textContent = err.message; say(''); } finally { submit.disabled = false; }
    },
  }, el('h2', { id: 'edit-h' }, 'Edit with a new prompt'), field('What to change', prompt), submit, error);
}

// ---- account ----------------------------------------------------------------------------------

function copyButton(text, label) {
  return el('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try { await navigator.clipboard.writeText(text()); say('Copied.'); } catch { say('Copy it by hand: the browser refused.'); }
    },
  }, label);
}

const day = (t) => new Date(t * 1000).toISOString().slice(0, 10);

/** Credits spent per day over the last 14 days, as bars (SVG, made node by node). */
function spendChart(ledger) {
  const ns = 'http://www.w3.org/2000/svg';
  const days = [...Array(14).keys()].map((i) => day(Date.now() / 1000 - (13 - i) * 86400));
  const spent = Object.fromEntries(days.map((d) => [d, 0]));
  for (const line of ledger) if (line.delta < 0 && day(line.created_at) in spent) spent[day(line.created_at)] -= line.delta;
  const max = Math.max(1, ...Object.values(spent));
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 280 80');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Credits spent per day, last 14 days: ${days.map((d) => `${d} ${spent[d]}`).join(', ')}`);
  days.forEach((d, i) => {
    const h = Math.round((spent[d] / max) * 70);
    const bar = document.createElementNS(ns, 'rect');
    for (const [k, v] of Object.entries({ x: i * 20 + 2, y: 75 - h, width: 16, height: Math.max(h, 1) })) bar.setAttribute(k, v);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${d}: ${spent[d]} credits`;
    bar.append(title);
    svg.append(bar);
  });
  return svg;
}

async function accountView() {
  const keys = el('ul', { class: 'keys', 'aria-label': 'API keys' });
  const shown = el('div', { 'aria-live': 'polite' });
  async function listKeys() {
    const list = await api('/v1/api-keys');
    keys.replaceChildren(...list.data.map((k) => el('li', {},
      el('code', {}, `${k.prefix}…`), ` ${k.name} · made ${day(k.created_at)} · `,
      k.last_used_at ? `last used ${day(k.last_used_at)}` : 'never used', ' ',
      el('button', {
        type: 'button', class: 'link',
        onclick: async () => {
          if (!confirm(`Revoke the key "${k.name}"? It stops working at once.`)) return;
          try { await api(`/v1/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }); listKeys(); } catch (e) { say(e.message); }
        },
      }, `Revoke ${k.name}`))));
    if (!list.data.length) keys.replaceChildren(el('li', { class: 'hint' }, 'No keys yet.'));
  }
  const keyName = el('input', { type: 'text', name: 'key-name', maxlength: 64, placeholder: 'default' });
  const keyForm = el('form', {
    'aria-labelledby': 'keys-h',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const made = await api('/v1/api-keys', { method: 'POST', body: { name: keyName.value.trim() || undefined } });
        shown.replaceChildren(el('p', {}, 'Your new key, shown this once:'), el('code', { class: 'secret', id: 'new-key' }, made.key), ' ',
          copyButton(() => made.key, 'Copy key'));
        keyName.value = '';
        listKeys();
      } catch (err) { say(err.message); }
    },
  }, el('h2', { id: 'keys-h' }, 'API keys'), keys, field('New key name', keyName),
  el('button', { type: 'submit' }, 'Create a key'), shown);

  const referral = el('p', {});
  const credit = el('div', {});
  const secret = el('code', { class: 'secret' }, '');
  const reveal = el('button', { type: 'button', class: 'secondary' }, 'Show');
  let whsec = '';
  reveal.addEventListener('click', () => { secret.textContent = secret.textContent ? '' : whsec; reveal.textContent = secret.textContent ? 'Hide' : 'Show'; });
  page('Account', keyForm,
    el('section', { class: 'panel', 'aria-labelledby': 'ref-h' }, el('h2', { id: 'ref-h' }, 'Referral link'), referral),
    el('section', { class: 'panel', 'aria-labelledby': 'credit-h' }, el('h2', { id: 'credit-h' }, 'Credits'), credit),
    el('section', { class: 'panel', 'aria-labelledby': 'hook-h' }, el('h2', { id: 'hook-h' }, 'Webhook signing secret'),
      el('p', { class: 'hint' }, 'Verify the webhooks this API sends you with it (Standard Webhooks).'),
      secret, ' ', reveal, ' ', copyButton(() => whsec, 'Copy secret'), ' ',
      el('button', {
        type: 'button', class: 'secondary',
        onclick: async () => {
          if (!confirm('Rotate the secret? The old one keeps signing for 24 hours.')) return;
          try { whsec = (await api('/v1/webhooks/secret/rotate', { method: 'POST', body: {} })).secret; secret.textContent = ''; reveal.textContent = 'Show'; say('Rotated.'); } catch (e) { say(e.message); }
        },
      }, 'Rotate')));
  try {
    await listKeys();
    const link = await api('/v1/referral-link');
    referral.replaceChildren(el('a', { href: link.url, id: 'referral-url' }, link.url), ' ', copyButton(() => link.url, 'Copy link'),
      el('p', { class: 'hint' }, `Whoever signs up with it gets ${link.signup_credits} extra credits; you earn ${link.referrer_credits} when they first generate (at most ${link.monthly_cap} a month).`));
    const c = await api('/v1/credit');
    credit.replaceChildren(
      el('p', {}, `${c.available} available · ${c.earned} earned · ${c.spent} spent`),
      spendChart(c.ledger),
      el('table', {}, el('caption', {}, 'Recent ledger'),
        el('thead', {}, el('tr', {}, ['Date', 'Change', 'Why', 'Note'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, c.ledger.map((l) => el('tr', {},
          el('td', {}, day(l.created_at)), el('td', {}, l.delta > 0 ? `+${l.delta}` : String(l.delta)),
          el('td', {}, l.reason), el('td', {}, l.note || ''))))));
    whsec = (await api('/v1/webhooks/secret')).secret;
  } catch (e) { say(e.message); }
}

// ---- routing ----------------------------------------------------------------------------------

async function route() {
  say('');
  const path = location.pathname;
  if (path === '/app/signin') return signinView();
  if (!state.access && !(await refresh())) return go('/app/signin');
  nav.hidden = false;
  showCredits();
  if (path === '/app/generate') return generateView();
  if (path === '/app/account') return accountView();
  if (path.startsWith('/app/assets/')) return assetView(decodeURIComponent(path.slice('/app/assets/'.length)));
  return libraryView();
}

route();
