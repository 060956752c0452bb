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

/** An image the browser fetches in the smallest format it shows: AVIF, else WebP, else `src`. */
function picture(formats, src, attrs) {
  const f = formats || {};
  return el('picture', {},
    f.avif ? el('source', { srcset: f.avif, type: 'image/avif' }) : null,
    f.webp && f.webp !== src ? el('source', { srcset: f.webp, type: 'image/webp' }) : null,
    el('img', { src, ...attrs }));
}

function say(text) { statusLine.textContent = text || ''; }

async function refresh() {
  const r = await fetch('/v1/auth/refresh', { method: 'POST', credentials: 'same-origin' });
  // 204: no session cookie, nothing to refresh (not an error).
  if (!r.ok || r.status === 204) { state.access = null; return false; }
  state.access = (await r.json()).access_token;
  return true;
}

/**
 * Calls the API with a JSON `body` or a FormData `form`; an expired access token is refreshed
 * once from the cookie.
 */
async function api(path, { method = 'GET', body, form, headers: extra = {}, retry = true } = {}) {
  const headers = { ...extra };
  if (state.access) headers.authorization = `Bearer ${state.access}`;
  let payload = form;
  if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const r = await fetch(path, { method, headers, credentials: 'same-origin', body: payload });
  if (r.status === 401 && retry && await refresh()) return api(path, { method, body, form, headers: extra, retry: false });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const message = data?.error?.message || `${r.status} ${r.statusText}`;
    const e = new Error(message);
    e.status = r.status; e.param = data?.error?.param;
    throw e;
  }
  return data;
}

const FINISHED = { succeeded: 'ok', completed: 'ok', failed: 'bad', canceled: 'bad' };

/**
 * Shows a job (or a video, which is one) until it ends: its status, its percent and a cancel
 * button. Resolves with the finished object; rejects when it failed or was canceled.
 */
function follow(first, url, box) {
  const bar = el('progress', { max: 100, value: first.progress || 0 });
  const text = el('span', { class: 'job-status' });
  const cancel = el('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      cancel.disabled = true;
      try { await api(`/v1/jobs/${encodeURIComponent(first.id)}/cancel`, { method: 'POST', body: {} }); } catch (e) { say(e.message); }
    },
  }, 'Cancel');
  box.replaceChildren(el('div', { class: 'job', role: 'group', 'aria-label': 'Progress' },
    el('label', {}, text, bar), cancel));
  const show = (j) => {
    const status = j.status.replace('_', ' ');
    bar.value = j.progress || 0;
    bar.textContent = `${j.progress || 0} %`;
    text.textContent = `${status[0].toUpperCase()}${status.slice(1)} · ${j.progress || 0} %`;
    box.dataset.status = j.status;
  };
  show(first);
  return new Promise((resolve, reject) => {
    const tick = async (j) => {
      show(j);
      if (FINISHED[j.status]) {
        cancel.remove();
        if (FINISHED[j.status] === 'ok') resolve(j);
        else reject(new Error(j.error?.message || `It was ${j.status}.`));
        return;
      }
      // Stops when the page it was shown on is gone; the work goes on and lands in the library.
      if (!box.isConnected) return;
      setTimeout(() => api(url).then(tick, reject), 1000);
    };
    tick(first);
  });
}

/** Sends paid work as a job (`Prefer: respond-async`) and follows it in `box`. */
async function asJob(path, init, box) {
  const job = await api(path, { ...init, method: 'POST', headers: { prefer: 'respond-async' } });
  if (job.object !== 'job') return { result: job };
  return follow(job, `/v1/jobs/${encodeURIComponent(job.id)}`, box);
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

/** The page that sent the person to sign in (the consent page), taken once, if recent. */
function afterSignin() {
  const saved = sessionStorage.getItem('after-signin');
  sessionStorage.removeItem('after-signin');
  const [at, next] = (saved || '').split(' ');
  const fresh = Date.now() - Number(at) < 15 * 60 * 1000;
  return fresh && next && next.startsWith('/app/') ? next : null;
}

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
  // A page asked for before the filter changed is dropped when it arrives.
  let listing = 0;

  async function more() {
    if (loading || done) return;
    loading = true;
    const mine = listing;
    try {
      const q = new URLSearchParams({ limit: '24', type: type.value, sort: sort.value });
      if (cursor) q.set('cursor', cursor);
      const pageOf = await api(`/v1/images?${q}`);
      if (mine === listing) {
        for (const item of pageOf.data) grid.append(tile(item));
        cursor = pageOf.next_cursor; done = !pageOf.has_more;
        empty.textContent = grid.children.length ? '' : 'Nothing here yet: generate something.';
      }
    } catch (e) { if (mine === listing) { say(e.message); done = true; } } finally { loading = false; }
    if (mine !== listing || (!done && sentinel.getBoundingClientRect().top < innerHeight + 400)) more();
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
        picture(item.variants && item.variants.thumbnail, item.thumbnail_url || item.url,
          { alt: text, loading: 'lazy', width: 256, height: 256 })),
      el('figcaption', {}, text));
  }

  function restart() { listing += 1; grid.replaceChildren(); cursor = null; done = false; selected.clear(); remove.disabled = true; more(); }
  type.addEventListener('change', restart);
  sort.addEventListener('change', restart);
  new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) more(); }).observe(sentinel);
  page('Library',
    el('div', { class: 'toolbar' }, field('Type', type), field('Sort', sort), remove),
    empty, grid, sentinel);
  more();
}

// ---- generate ---------------------------------------------------------------------------------

/** The models of the catalog that can do `operation` (`generate`, `edit`, `video`). */
async function modelsFor(operation) {
  const all = (await api('/v1/models')).data;
  return all.filter((m) => (m.operations || []).includes(operation));
}

/** Text with `code` spans, as nodes (never parsed as HTML). */
function withCode(text) {
  return text.split('`').map((part, i) => (i % 2 ? el('code', {}, part) : part));
}

/** A model picker that explains the chosen model (what it is, use cases, tips, cost). */
function modelPicker(models, onPick) {
  const select = el('select', { name: 'model' }, models.map((m) => el('option', { value: m.id }, m.id)));
  const about = el('details', { class: 'about' });
  const pick = () => {
    const m = models.find((x) => x.id === select.value);
    if (!m) return;
    const perImage = Object.entries(m.cost?.per_image || {}).map(([s, c]) => `${s}: ${c}`).join(', ');
    const perSecond = Object.values(m.cost?.per_second || {})[0];
    const cost = perImage ? `Credits per image: ${perImage}` : `Credits per second: ${perSecond}`;
    const list = (title, items) => (items?.length ? [el('h3', {}, title), el('ul', {}, items.map((t) => el('li', {}, withCode(t))))] : []);
    about.replaceChildren(
      el('summary', {}, `About ${m.id} · ${cost}`),
      el('p', {}, withCode(m.info?.what_is || '')),
      ...list('Good for', m.info?.use_cases), ...list('Tips', m.info?.tips));
    onPick(m);
  };
  select.addEventListener('change', pick);
  return { select, about, pick };
}

function resultTiles(data, text, into) {
  into.replaceChildren(...data.map((d) => el('figure', { class: 'tile' },
    el('a', { href: `/app/assets/${encodeURIComponent(d.id)}` }, el('img', { src: d.url, alt: text })),
    el('figcaption', {}, text))));
}

async function generateView() {
  const prompt = el('textarea', { name: 'prompt', required: true, maxlength: 32000 });
  const size = el('select', { name: 'size' });
  const quality = el('select', { name: 'quality' });
  const n = el('input', { type: 'number', name: 'n', min: 1, max: 10, value: 1 });
  const transparent = el('input', { type: 'checkbox', name: 'transparent' });
  const error = el('p', { class: 'error', role: 'alert' });
  const progress = el('div', { class: 'progress', 'aria-live': 'polite' });
  const results = el('div', { class: 'grid results', 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, 'Generate');
  const modelSlot = el('div', {});
  let picker;

  const form = el('form', {
    'aria-labelledby': 'generate-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      submit.disabled = true;
      const text = prompt.value;
      const body = { model: picker.select.value, prompt: text, n: Number(n.value), size: size.value, response_format: 'url' };
      if (quality.value) body.quality = quality.value;
      if (transparent.checked) { body.background = 'transparent'; body.output_format = 'png'; }
      try {
        const done = await asJob('/v1/images/generations', { body }, progress);
        resultTiles(done.result.data, text, results);
        say(`Done: ${done.result.data.length} image(s) in your library.`);
      } catch (err) { error.textContent = err.message; } finally { submit.disabled = false; showCredits(); }
    },
  },
  el('h2', { id: 'generate-h' }, 'From a prompt'),
  field('Prompt', prompt),
  el('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      try { prompt.value = (await api('/v1/prompts/random?n=1')).prompts[0]; } catch (err) { say(err.message); }
    },
  }, 'Random prompt'),
  modelSlot,
  el('div', { class: 'row' }, field('Size', size), field('Quality', quality), field('Images', n)),
  el('label', {}, transparent, ' Transparent background'),
  submit, error, progress);
  const edit = el('div', {});
  page('Generate', form, results, edit);
  try {
    picker = modelPicker(await modelsFor('generate'), (m) => {
      size.replaceChildren(...m.sizes.map((s) => el('option', { value: s, selected: s === m.default_size }, s)));
      quality.replaceChildren(el('option', { value: '' }, 'default'), ...m.qualities.map((q) => el('option', { value: q }, q)));
      n.max = m.max_n;
      transparent.disabled = m.transparent_background === 'none';
    });
    modelSlot.replaceChildren(field('Model', picker.select), picker.about);
    picker.pick();
    edit.replaceChildren(uploadEditForm(await modelsFor('edit')));
  } catch (err) { error.textContent = err.message; }
}

/**
 * A canvas over a picture where the user paints what should change. The mask it makes has the
 * picture's size and OpenAI's meaning: opaque where the picture stays, transparent where painted.
 */
function maskEditor(src, alt) {
  const img = el('img', { src, alt, class: 'mask-image' });
  const canvas = el('canvas', { class: 'mask-paint', 'aria-hidden': 'true' });
  const brush = el('input', { type: 'range', name: 'brush', min: 4, max: 160, value: 40 });
  let painted = false;
  let last = null;
  const ready = new Promise((resolve, reject) => {
    img.addEventListener('load', () => { canvas.width = img.naturalWidth; canvas.height = img.naturalHeight; resolve(); });
    img.addEventListener('error', () => reject(new Error('The picture could not be loaded.')));
  });
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * (canvas.width / r.width), (e.clientY - r.top) * (canvas.height / r.height)];
  };
  const paint = (from, to) => {
    const c = canvas.getContext('2d');
    const width = Number(brush.value) * (canvas.width / canvas.getBoundingClientRect().width);
    c.strokeStyle = c.fillStyle = '#e53935';
    c.lineWidth = width; c.lineCap = 'round';
    c.beginPath(); c.moveTo(...from); c.lineTo(...to); c.stroke();
    c.beginPath(); c.arc(...to, width / 2, 0, 2 * Math.PI); c.fill();
    painted = true;
  };
  canvas.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    last = at(e); paint(last, last);
  });
  canvas.addEventListener('pointermove', (e) => { if (last) { const p = at(e); paint(last, p); last = p; } });
  for (const end of ['pointerup', 'pointercancel']) canvas.addEventListener(end, () => { last = null; });
  const clear = el('button', {
    type: 'button', class: 'secondary',
    onclick: () => { canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height); painted = false; },
  }, 'Clear the mask');
  const element = el('div', { class: 'mask-editor' },
    el('div', { class: 'mask-stage' }, img, canvas),
    el('div', { class: 'row' }, field('Brush size', brush), clear),
    el('p', { class: 'hint' }, 'Paint over what should change. Without paint, the whole picture may change.'));
  return {
    element,
    get painted() { return painted; },
    /** The mask as a PNG blob, or null when nothing was painted. */
    async mask() {
      await ready;
      if (!painted) return null;
      const m = document.createElement('canvas');
      m.width = canvas.width; m.height = canvas.height;
      const c = m.getContext('2d');
      c.fillStyle = '#000'; c.fillRect(0, 0, m.width, m.height);
      c.globalCompositeOperation = 'destination-out';
      c.drawImage(canvas, 0, 0);
      return new Promise((resolve) => { m.toBlob(resolve, 'image/png'); });
    },
  };
}

/** Edits a picture from this computer: it and the painted mask go as OpenAI's multipart form. */
function uploadEditForm(models) {
  const file = el('input', { type: 'file', name: 'edit-file', accept: 'image/png,image/jpeg,image/webp' });
  const stage = el('div', {});
  const prompt = el('textarea', { name: 'upload-edit-prompt', required: true, maxlength: 32000 });
  const error = el('p', { class: 'error', role: 'alert' });
  const progress = el('div', { class: 'progress', 'aria-live': 'polite' });
  const results = el('div', { class: 'grid results', 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, 'Edit');
  const picker = modelPicker(models, () => {});
  let editor = null; let shown = null;
  file.addEventListener('change', () => {
    if (shown) URL.revokeObjectURL(shown);
    const f = file.files[0];
    if (!f) { stage.replaceChildren(); editor = null; return; }
    shown = URL.createObjectURL(f);
    editor = maskEditor(shown, `The picture to edit: ${f.name}`);
    stage.replaceChildren(editor.element);
  });
  const form = el('form', {
    'aria-labelledby': 'upload-edit-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      if (!file.files[0]) { error.textContent = 'Choose a picture first.'; return; }
      submit.disabled = true;
      const text = prompt.value;
      try {
        const data = new FormData();
        data.append('image', file.files[0]);
        const mask = await editor.mask();
        if (mask) data.append('mask', mask, 'mask.png');
        data.append('prompt', text);
        data.append('model', picker.select.value);
        data.append('response_format', 'url');
        const done = await asJob('/v1/images/edits', { form: data }, progress);
        resultTiles(done.result.data, text, results);
        say(`Done: ${done.result.data.length} image(s) in your library.`);
      } catch (err) { error.textContent = err.message; } finally { submit.disabled = false; showCredits(); }
    },
  },
  el('h2', { id: 'upload-edit-h' }, 'Edit a picture of yours'),
  field('Picture (PNG, JPEG or WebP)', file), stage,
  field('What to change', prompt), field('Model', picker.select), picker.about,
  submit, error, progress, results);
  picker.pick();
  return form;
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
    : picture(info.variants && info.variants.preview, info.url, { alt: text, class: 'asset' });
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

  const credentials = el('section', { class: 'credentials', 'aria-label': 'Content Credentials' },
    el('p', {}, 'Reading Content Credentials…'));
  api(`/v1/images/${encodeURIComponent(id)}/provenance`).then((p) => credentials.replaceChildren(
    ...provenanceView(p))).catch((e) => credentials.replaceChildren(el('p', {}, e.message)));

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
  el('h2', {}, 'Content Credentials'), credentials,
  el('h2', {}, 'Versions'), versions, actions];
  if (info.kind !== 'video') parts.push(transformForm(info), editForm(info));
  page(text.length > 60 ? `${text.slice(0, 57)}…` : text, ...parts);
  if (info.kind !== 'video') {
    const videos = await modelsFor('video').catch(() => []);
    if (videos.length && main.contains(versions)) main.append(videoForm(info, videos));
  }
}

// What an asset's signed C2PA manifest says: who made it and its history, newest first.
function provenanceView(p) {
  if (p.validation_state === 'None') return [el('p', {}, 'No Content Credentials: this asset was stored as it was sent.')];
  const states = {
    Trusted: 'Signed by a certificate this deployment trusts.',
    Valid: 'Intact; the signer is not on this deployment\'s trust list.',
    Invalid: `These credentials do not hold: the file changed since it was signed, or they are damaged${p.error ? ` (${p.error})` : ''}.`,
  };
  const actionNames = { 'c2pa.created': 'Created', 'c2pa.edited': 'Edited', 'c2pa.opened': 'Saved as' };
  const steps = el('ol', { class: 'history', 'aria-label': 'History' }, ...p.history.map((h) => el('li', {},
    el('strong', {}, actionNames[h.action] || h.action),
    h.asset ? ` ${h.asset}` : '',
    h.model ? ` — ${h.model}${h.vendor ? ` via ${h.vendor}` : ''}` : (h.description ? ` — ${h.description}` : ''),
    h.when ? ` — ${new Date(h.when).toLocaleString()}` : '')));
  return [
    el('p', { class: `badge ${p.made_with_ai ? 'ai' : ''}` },
      p.summary || (p.validation_state === 'Invalid' ? 'Unverified' : 'Not made with AI')),
    el('p', {}, `${states[p.validation_state] || p.validation_state}${p.signer && p.signer.common_name ? ` Signer: ${p.signer.common_name}.` : ''}`),
    steps,
  ];
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

/**
 * Uploads a mask the API's own way (a presigned PUT, then complete) and gives its asset id; the
 * caller deletes that asset when done with it.
 */
async function uploadMask(blob) {
  const ticket = await api('/v1/uploads', { method: 'POST', body: { content_type: 'image/png', bytes: blob.size } });
  // The browser sets Content-Length itself (scripts may not).
  const headers = Object.fromEntries(Object.entries(ticket.headers).filter(([k]) => k.toLowerCase() !== 'content-length'));
  const put = await fetch(ticket.upload_url, { method: ticket.method, headers, body: blob });
  if (!put.ok) throw new Error(`The mask could not be uploaded (${put.status}).`);
  return (await api(ticket.complete_url, { method: 'POST', body: {} })).id;
}

/** A new prompt, and where to apply it painted on the picture: the result is the next version. */
function editForm(info) {
  const prompt = el('textarea', { name: 'edit-prompt', required: true, maxlength: 32000 });
  const editor = maskEditor(info.url, `${info.prompt || 'The picture'}: paint where to change it`);
  const error = el('p', { class: 'error', role: 'alert' });
  const submit = el('button', { type: 'submit' }, 'Make a new version');
  return el('form', {
    'aria-labelledby': 'edit-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = ''; submit.disabled = true; say('Editing…');
      let maskId = null;
      try {
        const mask = await editor.mask();
        if (mask) maskId = await uploadMask(mask);
        const body = { prompt: prompt.value };
        if (maskId) body.mask_id = maskId;
        const r = await api(`/v1/images/${encodeURIComponent(info.id)}`, { method: 'PATCH', body });
        go(`/app/assets/${encodeURIComponent(r.id)}`);
      } catch (err) { error.textContent = err.message; say(''); } finally {
        submit.disabled = false;
        showCredits();
        // The mask was only a means: it does not stay in the library.
        if (maskId) api(`/v1/images/${encodeURIComponent(maskId)}`, { method: 'DELETE' }).catch(() => {});
      }
    },
  }, el('h2', { id: 'edit-h' }, 'Edit with a new prompt'), editor.element, field('What to change', prompt), submit, error);
}

/** Image to video: the picture is the video's first frame; the work is a job followed here. */
function videoForm(info, models) {
  const prompt = el('textarea', { name: 'video-prompt', required: true, maxlength: 4000 });
  prompt.value = info.prompt || '';
  const seconds = el('select', { name: 'seconds' });
  const size = el('select', { name: 'video-size' });
  const error = el('p', { class: 'error', role: 'alert' });
  const progress = el('div', { class: 'progress', 'aria-live': 'polite' });
  const result = el('div', { 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, 'Make a video');
  const picker = modelPicker(models, (m) => {
    seconds.replaceChildren(...(m.seconds || []).map((x) => el('option', { value: x }, `${x} s`)));
    const wide = info.width >= info.height;
    const fits = m.sizes.find((x) => { const [w, h] = x.split('x').map(Number); return (w >= h) === wide; });
    size.replaceChildren(...m.sizes.map((x) => el('option', { value: x, selected: x === (fits || m.default_size) }, x)));
  });
  picker.select.name = 'video-model';
  const form = el('form', {
    'aria-labelledby': 'video-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = ''; submit.disabled = true; result.replaceChildren();
      try {
        const body = {
          model: picker.select.value, prompt: prompt.value, seconds: seconds.value, size: size.value,
          input_reference: { file_id: info.id },
        };
        const video = await api('/v1/videos', { method: 'POST', body });
        showCredits();
        const done = await follow(video, `/v1/videos/${encodeURIComponent(video.id)}`, progress);
        const clip = await api(`/v1/images/${encodeURIComponent(done.asset_id)}`);
        result.replaceChildren(
          el('video', { controls: true, src: clip.url, poster: clip.thumbnail_url || false, preload: 'metadata', class: 'asset', id: 'new-video' }),
          el('p', {}, 'In your library: ', el('a', { href: `/app/assets/${encodeURIComponent(clip.id)}` }, 'open the video')));
      } catch (err) { error.textContent = err.message; } finally { submit.disabled = false; showCredits(); }
    },
  }, el('h2', { id: 'video-h' }, 'Make a video from this picture'),
  field('Model', picker.select), picker.about, field('What happens', prompt),
  el('div', { class: 'row' }, field('Length', seconds), field('Size', size)),
  submit, error, progress, result);
  picker.pick();
  return form;
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

/** Bars of a value per day (SVG, made node by node); `label` names the value. */
function barChart(days, values, label) {
  const ns = 'http://www.w3.org/2000/svg';
  const max = Math.max(1, ...values);
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${days.length * 20} 80`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${label}: ${days.map((d, i) => `${d} ${values[i]}`).join(', ')}`);
  days.forEach((d, i) => {
    const h = Math.round((values[i] / max) * 70);
    const bar = document.createElementNS(ns, 'rect');
    for (const [k, v] of Object.entries({ x: i * 20 + 2, y: 75 - h, width: 16, height: Math.max(h, 1) })) bar.setAttribute(k, v);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${d}: ${values[i]}`;
    bar.append(title);
    svg.append(bar);
  });
  return svg;
}

/** Credits spent per day over the report's days (`GET /v1/usage`), and who spent them. */
function usageReport(u, names) {
  const who = (id) => (id === 'session' ? 'signed in' : id === 'queue' ? 'the queue' : `key ${names[id] || id}`);
  return el('div', { id: 'usage' },
    barChart(u.data.map((d) => d.date), u.data.map((d) => d.credits), `Credits spent per day, ${u.start} to ${u.end}`),
    el('table', {}, el('caption', {}, `Spent ${u.start} to ${u.end}: ${u.total.credits} credits, ${u.total.images} images`),
      el('thead', {}, el('tr', {}, ['By', 'Credits', 'Images'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, [...u.spent_by.map((s) => [who(s.id), s]), ...u.models.map((m) => [`model ${m.id}`, m])]
        .map(([label, s]) => el('tr', {}, el('td', {}, label), el('td', {}, String(s.credits)), el('td', {}, String(s.images)))))));
}

const SCOPES = [['library:read', 'read the library'], ['library:write', 'change the library'],
  ['generate', 'generate'], ['jobs', 'follow jobs'], ['account', 'read the account']];

/** What a key may do, in words. */
function limitsText(k) {
  const parts = [];
  if (k.scopes) parts.push(`may ${k.scopes.map((s) => SCOPES.find(([v]) => v === s)?.[1] || s).join(', ')}`);
  if (k.models) parts.push(`models ${k.models.join(', ')}`);
  if (k.budget) parts.push(`budget ${k.budget.credits} a ${k.budget.period}, ${k.spend.budget_remaining} left`);
  if (k.rate_limit_per_hour) parts.push(`${k.rate_limit_per_hour} requests an hour`);
  if (k.expires_at) parts.push(`${k.expires_at * 1000 < Date.now() ? 'expired' : 'expires'} ${day(k.expires_at)}`);
  return parts.length ? parts.join(' · ') : 'no limits';
}

/** The inputs of a key's limits (prefilled from `k`), and a reader giving the API's fields. */
function limitsFields(prefix, k) {
  const boxes = SCOPES.map(([value, label]) => {
    const box = el('input', { type: 'checkbox', name: `${prefix}-scope`, value });
    box.checked = !k?.scopes || k.scopes.includes(value);
    return [box, el('label', {}, box, ` ${label}`)];
  });
  const budget = el('input', { type: 'number', name: `${prefix}-budget`, min: 1, step: 1, placeholder: 'none' });
  budget.value = k?.budget?.credits ?? '';
  const period = el('select', { name: `${prefix}-period` }, el('option', { value: 'day' }, 'a day'), el('option', { value: 'month' }, 'a month'));
  period.value = k?.budget?.period || 'day';
  const hourly = el('input', { type: 'number', name: `${prefix}-hourly`, min: 1, step: 1, placeholder: "the account's" });
  hourly.value = k?.rate_limit_per_hour ?? '';
  const expires = el('input', { type: 'date', name: `${prefix}-expires` });
  expires.value = k?.expires_at ? day(k.expires_at) : '';
  return {
    nodes: [el('fieldset', {}, el('legend', {}, 'The key may'), boxes.map(([, label]) => label)),
      el('div', { class: 'row' }, field('Budget, credits', budget), field('Per', period),
        field('Requests an hour', hourly), field('Expires (end of day, UTC)', expires))],
    read() {
      const scopes = boxes.filter(([b]) => b.checked).map(([b]) => b.value);
      return {
        scopes: scopes.length === SCOPES.length ? null : scopes,
        budget: budget.value ? { credits: Number(budget.value), period: period.value } : null,
        rate_limit_per_hour: hourly.value ? Number(hourly.value) : null,
        expires_at: expires.value ? Math.floor(Date.parse(`${expires.value}T23:59:59Z`) / 1000) : null,
      };
    },
  };
}

async function accountView() {
  const keys = el('ul', { class: 'keys', 'aria-label': 'API keys' });
  const shown = el('div', { 'aria-live': 'polite' });
  const names = {};
  function editor(k, item) {
    const limits = limitsFields(`edit-${k.name}`, k);
    const form = el('form', {
      class: 'panel', 'aria-label': `Limits of ${k.name}`,
      onsubmit: async (e) => {
        e.preventDefault();
        try { await api(`/v1/api-keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', body: limits.read() }); say('Saved.'); listKeys(); } catch (err) { say(err.message); }
      },
    }, limits.nodes, el('button', { type: 'submit' }, `Save ${k.name}`));
    item.append(form);
  }
  async function listKeys() {
    const list = await api('/v1/api-keys');
    for (const k of list.data) names[k.id] = k.name;
    keys.replaceChildren(...list.data.map((k) => {
      const item = el('li', { 'data-key': k.name },
        el('code', {}, `${k.prefix}…`), ` ${k.name} · ${k.resource ? 'MCP client, connected' : 'made'} ${day(k.created_at)} · `,
        k.last_used_at ? `last used ${day(k.last_used_at)}` : 'never used',
        ` · spent ${k.spend.day} today, ${k.spend.month} this month · `,
        el('span', { class: 'limits' }, limitsText(k)), ' ',
        el('button', { type: 'button', class: 'link', onclick: () => editor(k, item) }, `Edit ${k.name}`), ' ',
        el('button', {
          type: 'button', class: 'link',
          onclick: async () => {
            if (!confirm(`Revoke the key "${k.name}"? It stops working at once.`)) return;
            try { await api(`/v1/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' }); listKeys(); } catch (e) { say(e.message); }
          },
        }, `Revoke ${k.name}`));
      return item;
    }));
    if (!list.data.length) keys.replaceChildren(el('li', { class: 'hint' }, 'No keys yet.'));
  }
  const keyName = el('input', { type: 'text', name: 'key-name', maxlength: 64, placeholder: 'default' });
  const newLimits = limitsFields('key', null);
  const keyForm = el('form', {
    'aria-labelledby': 'keys-h',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const made = await api('/v1/api-keys', { method: 'POST', body: { name: keyName.value.trim() || undefined, ...newLimits.read() } });
        shown.replaceChildren(el('p', {}, 'Your new key, shown this once:'), el('code', { class: 'secret', id: 'new-key' }, made.key), ' ',
          copyButton(() => made.key, 'Copy key'));
        keyName.value = '';
        listKeys();
      } catch (err) { say(err.message); }
    },
  }, el('h2', { id: 'keys-h' }, 'API keys'),
  el('p', { class: 'hint' }, `Agents connect to ${location.origin}/mcp (MCP): with a key as a bearer, or by signing in here, which adds their key below.`),
  keys, field('New key name', keyName),
  el('details', {}, el('summary', {}, 'Limits of the new key'), newLimits.nodes),
  el('button', { type: 'submit' }, 'Create a key'), shown);

  const referral = el('p', {});
  const credit = el('div', {});
  const storage = el('div', {});
  const secret = el('code', { class: 'secret' }, '');
  const reveal = el('button', { type: 'button', class: 'secondary' }, 'Show');
  let whsec = '';
  reveal.addEventListener('click', () => { secret.textContent = secret.textContent ? '' : whsec; reveal.textContent = secret.textContent ? 'Hide' : 'Show'; });
  page('Account', keyForm,
    el('section', { class: 'panel', 'aria-labelledby': 'ref-h' }, el('h2', { id: 'ref-h' }, 'Referral link'), referral),
    el('section', { class: 'panel', 'aria-labelledby': 'credit-h' }, el('h2', { id: 'credit-h' }, 'Credits'), credit),
    el('section', { class: 'panel', 'aria-labelledby': 'storage-h' }, el('h2', { id: 'storage-h' }, 'Storage'), storage),
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
      usageReport(await api('/v1/usage'), names),
      el('div', { class: 'table' }, el('table', {}, el('caption', {}, 'Recent ledger'),
        el('thead', {}, el('tr', {}, ['Date', 'Change', 'Why', 'By', 'Note'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, c.ledger.map((l) => el('tr', {},
          el('td', {}, day(l.created_at)), el('td', {}, l.delta > 0 ? `+${l.delta}` : String(l.delta)),
          el('td', {}, l.reason), el('td', {}, l.api_key_id ? `key ${names[l.api_key_id] || l.api_key_id}` : l.session_id ? 'signed in' : ''),
          el('td', {}, l.note || '')))))));
    const me = await api('/v1/me');
    const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
    storage.replaceChildren(
      el('p', { id: 'storage-used' }, `${mb(me.storage.used_bytes)} of ${mb(me.storage.quota_bytes)} used`),
      el('progress', { max: me.storage.quota_bytes, value: me.storage.used_bytes, 'aria-label': 'Storage used' }),
      el('p', { class: 'hint' }, 'Every image, video, upload and version counts; deleting them gives the room back.'));
    whsec = (await api('/v1/webhooks/secret')).secret;
  } catch (e) { say(e.message); }
}

// ---- admin ------------------------------------------------------------------------------------

async function adminView() {
  if (state.me?.role !== 'admin') {
    page('Admin', el('p', {}, 'This page is for administrators.'));
    return;
  }
  const q = el('input', { type: 'search', name: 'q', placeholder: 'username or email starts with…' });
  const rows = el('tbody', {});
  const more = el('button', { type: 'button', class: 'secondary', hidden: true }, 'More users');
  const detail = el('section', { class: 'panel', 'aria-labelledby': 'user-h', hidden: true });
  const usage = el('section', { class: 'panel', 'aria-labelledby': 'usage-h' }, el('h2', { id: 'usage-h' }, 'Usage, last 14 days'));
  let cursor = null;

  const status = (u) => (u.disabled ? 'disabled' : 'active');
  async function list(reset) {
    if (reset) { rows.replaceChildren(); cursor = null; }
    const query = new URLSearchParams({ limit: '25' });
    if (q.value.trim()) query.set('q', q.value.trim());
    if (cursor) query.set('cursor', cursor);
    try {
      const found = await api(`/v1/admin/users?${query}`);
      for (const u of found.data) {
        rows.append(el('tr', { 'data-user': u.id },
          el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => open(u.id) }, u.username)),
          el('td', {}, u.email), el('td', { class: 'user-credits' }, String(u.credits.available)), el('td', {}, u.role),
          el('td', { class: 'user-status' }, status(u))));
      }
      cursor = found.next_cursor;
      more.hidden = !found.has_more;
    } catch (e) { say(e.message); }
  }

  async function open(id) {
    let d;
    try { d = await api(`/v1/admin/users/${encodeURIComponent(id)}`); } catch (e) { say(e.message); return; }
    const u = d.user;
    // The list shows what the detail does, also after a change made here.
    const row = rows.querySelector(`[data-user="${CSS.escape(u.id)}"]`);
    if (row) {
      row.querySelector('.user-credits').textContent = String(u.credits.available);
      row.querySelector('.user-status').textContent = status(u);
    }
    const amount = el('input', { type: 'number', name: 'amount', step: 1, min: -1000000, max: 1000000, required: true });
    const reason = el('input', { type: 'text', name: 'reason', maxlength: 200, required: true });
    const error = el('p', { class: 'error', role: 'alert' });
    const grant = el('form', {
      'aria-labelledby': 'grant-h',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        try {
          await api(`/v1/admin/users/${encodeURIComponent(u.id)}/credits`, { method: 'POST', body: { amount: Number(amount.value), reason: reason.value } });
          say(`Credits changed by ${amount.value}.`);
          open(u.id);
        } catch (err) { error.textContent = err.message; }
      },
    }, el('h3', { id: 'grant-h' }, 'Grant or take credits'),
    el('div', { class: 'row' }, field('Amount (negative takes away)', amount), field('Reason (the user reads it)', reason)),
    el('button', { type: 'submit' }, 'Change credits'), error);
    const toggle = el('button', {
      type: 'button', class: 'secondary',
      onclick: async () => {
        const action = u.disabled ? 'enable' : 'disable';
        if (action === 'disable' && !confirm(`Disable ${u.username}? Their sessions and API keys stop working at once.`)) return;
        try {
          await api(`/v1/admin/users/${encodeURIComponent(u.id)}/${action}`, { method: 'POST', body: {} });
          open(u.id);
        } catch (e) { say(e.message); }
      },
    }, u.disabled ? `Enable ${u.username}` : `Disable ${u.username}`);
    detail.hidden = false;
    detail.replaceChildren(el('h2', { id: 'user-h' }, u.username),
      el('dl', { class: 'facts' }, [
        ['Email', u.email || '—'], ['Role', u.role], ['Status', status(u)],
        ['Credits', `${u.credits.available} available · ${u.credits.earned} earned · ${u.credits.spent} spent`],
        ['Joined', new Date(u.created_at * 1000).toLocaleString()], ['Referred by', u.referred_by || '—'],
      ].flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, v)])),
      toggle, grant,
      el('h3', {}, 'Admin actions'),
      d.audit.length ? el('ul', { class: 'audit' }, d.audit.map((a) => el('li', {},
        [new Date(a.at * 1000).toLocaleString(), a.action.replace('_', ' '), a.detail].filter(Boolean).join(' · '))))
        : el('p', { class: 'hint' }, 'None yet.'));
    detail.scrollIntoView?.({ block: 'nearest' });
  }

  q.addEventListener('input', () => { clearTimeout(q.timer); q.timer = setTimeout(() => list(true), 250); });
  more.addEventListener('click', () => list(false));
  page('Admin',
    el('section', { class: 'panel', 'aria-labelledby': 'users-h' }, el('h2', { id: 'users-h' }, 'Users'),
      field('Search', q),
      el('div', { class: 'table' }, el('table', {},
        el('thead', {}, el('tr', {}, ['User', 'Email', 'Credits', 'Role', 'Status'].map((h) => el('th', { scope: 'col' }, h)))),
        rows)),
      more),
    detail, usage);
  list(true);
  try {
    const u = await api('/v1/admin/usage?days=14');
    usage.append(el('p', {}, `${u.total.generations} paid requests · ${u.total.images} images and videos · ${u.total.credits} credits`),
      barChart(u.data.map((x) => x.date), u.data.map((x) => x.credits), 'Credits charged per day, all users'));
  } catch (e) { usage.append(el('p', { class: 'error' }, e.message)); }
}

// ---- an MCP client asks for access (OAuth consent) ---------------------------------------------

async function authorizeView() {
  // The parameters this server acts on; others (a `prompt`, a `nonce`) are ignored, as RFC 6749
  // asks of an authorization server.
  const known = ['client_id', 'redirect_uri', 'response_type', 'state', 'code_challenge', 'code_challenge_method', 'scope', 'resource'];
  const query = new URLSearchParams(location.search);
  const asked = Object.fromEntries(known.filter((k) => query.has(k)).map((k) => [k, query.get(k)]));
  const error = el('p', { class: 'error', role: 'alert' });
  const decide = async (decision, grant) => {
    const a = await api('/v1/oauth/authorize', { method: 'POST', body: { ...asked, decision, grant } });
    location.assign(a.redirect_to);
  };
  let a;
  try {
    a = await api('/v1/oauth/authorize', { method: 'POST', body: { ...asked, decision: 'preview' } });
  } catch (e) {
    // An unknown client or redirect URI: nothing may be sent anywhere, only shown here.
    return page('Connect an app', el('section', { class: 'panel' }, el('h2', {}, 'This request cannot be used'),
      el('p', { class: 'error', role: 'alert' }, e.message)));
  }
  if (a.redirect_to) {
    return page('Connect an app', el('section', { class: 'panel' }, el('h2', {}, `${a.client_name} sent a request this API cannot grant`),
      el('p', {}, 'It will be told why when you go back.'),
      el('a', { href: a.redirect_to, id: 'back-to-client' }, `Back to ${a.redirect_origin}`)));
  }
  const boxes = a.scopes.map((s) => el('input', { type: 'checkbox', name: 'scope', value: s.scope, checked: true, id: `grant-${s.scope}` }));
  const form = el('form', {
    class: 'panel', 'aria-labelledby': 'consent-h',
    onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = '';
      const grant = boxes.filter((b) => b.checked).map((b) => b.value).join(' ');
      if (!grant) { error.textContent = 'Leave at least one permission ticked, or deny.'; return; }
      try { await decide('allow', grant); } catch (err) { error.textContent = err.message; }
    },
  }, el('h2', { id: 'consent-h' }, `Allow ${a.client_name} to use your account?`),
  el('p', {}, `${a.client_name} is an MCP client (an agent or an app). It asks to:`),
  el('ul', { class: 'consent' }, a.scopes.map((s, i) => el('li', {}, el('label', { for: boxes[i].id }, boxes[i], ` ${s.description}`)))),
  el('p', { class: 'hint' }, `You will be sent back to ${a.redirect_origin}. Its access works only at ${a.resource}, lasts 90 days, and is listed under API keys on your Account page, where you can revoke it.`),
  el('div', { class: 'row' },
    el('button', { type: 'submit', id: 'allow' }, 'Allow'),
    el('button', {
      type: 'button', class: 'secondary', id: 'deny',
      onclick: async () => { try { await decide('deny'); } catch (err) { error.textContent = err.message; } },
    }, 'Deny')),
  error);
  page('Connect an app', form);
}

// ---- routing ----------------------------------------------------------------------------------

async function route() {
  say('');
  const path = location.pathname;
  if (path === '/app/signin') return signinView();
  if (!state.access && !(await refresh())) {
    // The consent page comes back after the sign-in, its query (the client's request) intact.
    if (path === '/app/authorize') sessionStorage.setItem('after-signin', `${Date.now()} ${path}${location.search}`);
    return go('/app/signin');
  }
  // Signed in (with a password or a provider): back to the page that asked for it.
  const next = afterSignin();
  if (next) return go(next);
  nav.hidden = false;
  showCredits();
  if (!state.me) state.me = await api('/v1/me').catch(() => null);
  document.getElementById('admin-link').hidden = state.me?.role !== 'admin';
  if (path === '/app/admin') return adminView();
  if (path === '/app/generate') return generateView();
  if (path === '/app/account') return accountView();
  if (path === '/app/authorize') return authorizeView();
  if (path.startsWith('/app/assets/')) return assetView(decodeURIComponent(path.slice('/app/assets/'.length)));
  return libraryView();
}

route();
