// Entry point: sign-in, hash routing, navigation. Each page module exports
// render(root, params) which fills its own container in <main> and may return a cleanup
// function; a page that opens something before it has finished rendering (the device page's
// live stream) registers its cleanup at once with onLeave. Leaving a page runs its cleanups
// whatever the timing: a page left while it is still rendering runs them when it registers
// them, and draws only into its own container, which is no longer in the document.
import { application, clearToken, getToken, onUnauthorized, setToken } from './api.js';
import { clear, clearAlerts, errorText, h, inline } from './ui.js';
import * as templates from './templates.js';
import * as devices from './devices.js';
import * as device from './device.js';
import * as admin from './admin.js';
import * as home from './home.js';
import * as exportsPage from './exports.js';
import * as fleet from './fleet.js';
import * as rules from './rules.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signoutBtn = document.getElementById('signout');
let cleanups = []; // what leaving the current page must run
let routeGen = 0; // which call of route() is the current page
let signinReason = '';
let signingIn = false; // the sign-in form reports its own 401

export const session = { role: '', app: null };

// A token handed over in the address (#token=...; e.g. printed by a local demo script) is
// kept in this tab's sessionStorage and removed from the address at once. A fragment is
// never sent to the server.
function takeTokenFromFragment() {
    const m = /^#token=([^&]+)/.exec(location.hash);
    if (!m) return;
    setToken(decodeURIComponent(m[1]));
    history.replaceState(null, '', `${location.pathname}#/devices`);
}

function routeOf(hash) {
    const parts = hash.replace(/^#\/?/, '').split('?')[0].split('/').map(decodeURIComponent);
    return parts.filter((p, i) => p !== '' || i === 0);
}

function setNav(section) {
    for (const a of nav.querySelectorAll('a')) {
        if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
    }
}

function showSignin() {
    nav.hidden = true;
    signoutBtn.hidden = true;
    who.textContent = '';
    document.title = 'Sign in · iotc';
    const msg = h('p', { class: 'msg', role: 'alert', hidden: true });
    const input = h('input', {
        id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off',
        spellcheck: 'false', 'aria-describedby': 'token-help',
    });
    const form = h('form', { class: 'card signin', id: 'signin-form' },
        h('h1', {}, 'Sign in'),
        h('label', { for: 'token' }, 'API token'),
        input,
        h('p', { id: 'token-help', class: 'muted' },
            'The administrator token that "iotc-central init" wrote to DIR/admin-token (iotc-admin.…), or an API token ',
            '(SharedAccessSignature sr=…). It is kept in this browser tab only and forgotten when the tab closes.'),
        msg,
        h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        setToken(input.value);
        inline(msg, 'info', 'Checking the token…');
        signingIn = true;
        try {
            session.app = await application();
            session.role = session.app.role;
            signinReason = '';
            if (!location.hash || location.hash.startsWith('#/signin')) location.hash = '#/dashboard';
            else route();
        } catch (err) {
            clearToken();
            inline(msg, 'error', `The token was not accepted: ${errorText(err)}`);
            input.focus();
        } finally {
            signingIn = false;
        }
    });
    if (signinReason) inline(msg, 'error', signinReason);
    clear(main, form);
    input.focus();
}

onUnauthorized((err) => {
    if (signingIn) return;
    clearToken();
    signinReason = `Please sign in again: ${errorText(err)}`;
    route();
});

signoutBtn.addEventListener('click', () => {
    clearToken();
    session.role = '';
    session.app = null;
    signinReason = '';
    location.hash = '#/signin';
    route();
});

function runSafely(fn) {
    try {
        fn();
    } catch (err) {
        console.error(err);
    }
}

async function route() {
    const gen = ++routeGen;
    const left = () => gen !== routeGen;
    for (const fn of cleanups.splice(0)) runSafely(fn);
    // run now when the page was already left, else when it is left
    const onLeave = (fn) => (left() ? runSafely(fn) : cleanups.push(fn));
    if (!getToken()) {
        showSignin();
        return;
    }
    if (!session.app) {
        try {
            session.app = await application();
            session.role = session.app.role;
        } catch (err) {
            if (left()) return;
            if (!getToken()) return; // 401: the listener already shows the sign-in form
            clear(main, h('p', { class: 'msg error', role: 'alert' }, `The server cannot be reached: ${errorText(err)}`),
                h('button', { type: 'button', onclick: () => route() }, 'Try again'));
            return;
        }
        if (left()) return;
    }
    nav.hidden = false;
    signoutBtn.hidden = false;
    who.textContent = `Signed in as ${session.role}`;
    const r = routeOf(location.hash || '#/dashboard');
    const [section, id, tab] = r;
    clearAlerts();
    const root = h('div', { class: 'page' });
    clear(main, root);
    let result;
    try {
        if (section === 'templates' && id) {
            setNav('templates');
            result = await templates.renderOne(root, id);
        } else if (section === 'templates') {
            setNav('templates');
            result = await templates.renderList(root);
        } else if (section === 'devices' && id) {
            setNav('devices');
            result = await device.render(root, id, tab, onLeave);
        } else if (section === 'groups') {
            setNav('groups');
            result = await fleet.renderGroups(root, session, id);
        } else if (section === 'jobs') {
            setNav('jobs');
            result = await fleet.renderJobs(root, session, id);
        } else if (section === 'rules') {
            setNav('rules');
            result = await rules.renderRules(root, session, id);
        } else if (section === 'alerts') {
            setNav('alerts');
            result = await rules.renderAlerts(root);
        } else if (section === 'admin') {
            setNav('admin');
            result = await admin.render(root, session);
        } else if (section === 'exports') {
            setNav('exports');
            result = await exportsPage.render(root);
        } else if (section === 'devices') {
            setNav('devices');
            result = await devices.render(root);
        } else {
            // the home page: the dashboard
            setNav('dashboard');
            if (section !== 'dashboard') history.replaceState(null, '', '#/dashboard');
            result = await home.render(root);
        }
    } catch (err) {
        root.append(h('p', { class: 'msg error', role: 'alert' }, `This page cannot be shown: ${errorText(err)}`));
    }
    if (typeof result === 'function') onLeave(result);
    if (left()) return;
    const heading = main.querySelector('h1');
    document.title = `${heading ? heading.textContent : 'iotc'} · iotc`;
    if (!main.contains(document.activeElement)) main.focus({ preventScroll: true });
}

// The skip link must not change the address: the fragment is the router's.
document.querySelector('.skip').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
});

takeTokenFromFragment();
window.addEventListener('hashchange', route);
route();
