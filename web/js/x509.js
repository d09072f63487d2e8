// X.509 in the web UI: a device's client certificates in its Connect dialog (thumbprints, set
// new ones: PUT /api/devices/{id}/attestation) and the Administration page's X.509 enrollment
// groups (their CA certificates: upload, verification code, verify with a certificate whose CN
// is the code). docs/WEB.md "X.509"; the flow: docs/DEVICE_PLANE.md "X.509 devices".
import { list, post, put, seg } from './api.js';
import { add, clear, copyField, errorText, h, inline, notify, table } from './ui.js';

const SLOTS = ['primary', 'secondary'];

/** The text of the file chosen in @p input, or null. */
async function fileText(input) {
    const f = input.files && input.files[0];
    return f ? f.text() : null;
}

/** What an X.509 device needs, for the Connect dialog: the certificates' thumbprints. */
export function x509Facts(deviceId, x509) {
    const certs = x509 && x509.clientCertificates;
    if (!certs) {
        return [h('p', { id: 'conn-x509-ca' }, `Authentication: X.509. Any certificate whose CN is ${deviceId} and whose chain leads to a verified CA certificate of the application.`)];
    }
    return SLOTS.filter((s) => certs[s] && certs[s].info).map((s) => {
        const info = certs[s].info;
        return copyField(`${s === 'primary' ? 'Primary' : 'Secondary'} certificate thumbprint (${info.sha1Thumbprint ? 'SHA-1' : 'SHA-256'})`,
            info.sha1Thumbprint || info.sha256Thumbprint, { id: `conn-thumb-${s}` });
    });
}

/**
 * A form to give the device client certificates (PEM or base64 DER files); @p onDone(attestation)
 * after the server took them.
 */
export function certificateForm(deviceId, onDone) {
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert', id: 'conn-cert-msg' });
    const p = h('input', { id: 'conn-cert-primary', type: 'file', accept: '.pem,.crt,.cer,.txt' });
    const s = h('input', { id: 'conn-cert-secondary', type: 'file', accept: '.pem,.crt,.cer,.txt' });
    const save = h('button', { type: 'button', class: 'small', id: 'conn-cert-save' }, 'Use these certificates');
    save.addEventListener('click', async () => {
        inline(msg, 'info', '');
        const primary = await fileText(p);
        const secondary = await fileText(s);
        if (!primary) {
            inline(msg, 'error', 'Choose the primary certificate file first.');
            return;
        }
        const clientCertificates = { primary: { certificate: primary } };
        if (secondary) clientCertificates.secondary = { certificate: secondary };
        save.disabled = true;
        try {
            const att = await put(`/api/devices/${seg(deviceId)}/attestation`, { type: 'x509', x509: { clientCertificates } });
            inline(msg, 'ok', 'The device now authenticates with these certificates (X.509); its SAS keys no longer work.');
            onDone(att);
        } catch (err) {
            inline(msg, 'error', `The certificates were not set: ${errorText(err)}`);
        } finally {
            save.disabled = false;
        }
    });
    return h('details', { id: 'conn-cert' }, h('summary', {}, 'Authenticate with X.509 certificates'),
        h('p', { class: 'muted' }, 'The server registers each certificate\'s thumbprint; the device then connects (or registers through DPS) with that certificate, CN = device ID.'),
        h('label', { for: 'conn-cert-primary' }, 'Primary certificate'), p,
        h('label', { for: 'conn-cert-secondary' }, 'Secondary certificate (optional)'), s,
        h('p', {}, save), msg);
}

/* One CA entry of a group: state, thumbprint, upload, verification code, verify. */
function entryRow(group, slot, cert, refresh) {
    const base = `/api/enrollmentGroups/${seg(group.id)}/certificates/${slot}`;
    const id = `${group.id}-${slot}`.replace(/[^A-Za-z0-9_-]/g, '_');
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert', id: `x509-msg-${id}` });
    const upload = h('input', { type: 'file', id: `x509-ca-${id}`, accept: '.pem,.crt,.cer,.txt' });
    const up = h('button', { type: 'button', class: 'small', 'aria-label': `Upload the ${slot} CA certificate of ${group.id}` }, 'Upload');
    up.addEventListener('click', async () => {
        const text = await fileText(upload);
        if (!text) return inline(msg, 'error', 'Choose a CA certificate file first.');
        try {
            await put(base, { certificate: text });
            notify(`The ${slot} CA certificate of ${group.id} was uploaded; prove possession to verify it.`);
            refresh();
        } catch (err) {
            inline(msg, 'error', `Not uploaded: ${errorText(err)}`);
        }
        return null;
    });
    const cells = [h('td', {}, slot)];
    if (!cert) {
        cells.push(h('td', {}, 'none'), h('td', {}, '—'));
    } else {
        cells.push(h('td', {}, cert.verified ? 'verified' : 'unverified'), h('td', {}, h('code', { class: 'thumb' }, cert.info.sha1Thumbprint)));
    }
    const actions = h('td', {}, h('label', { for: `x509-ca-${id}`, class: 'sr-only' }, `${slot} CA certificate file of ${group.id}`), upload, up);
    if (cert && !cert.verified) {
        const code = h('button', { type: 'button', class: 'small', 'aria-label': `Generate a verification code for the ${slot} CA of ${group.id}` }, 'Generate verification code');
        const codeBox = h('div', {});
        const proof = h('input', { type: 'file', id: `x509-proof-${id}`, accept: '.pem,.crt,.cer,.txt' });
        const verify = h('button', { type: 'button', class: 'small primary', 'aria-label': `Verify the ${slot} CA of ${group.id}` }, 'Verify');
        code.addEventListener('click', async () => {
            try {
                const r = await post(`${base}/generateVerificationCode`);
                clear(codeBox, copyField('Verification code', r.verificationCode, { id: `x509-code-${id}` }),
                    h('p', { class: 'muted' }, 'Make a certificate with this CN, signed with the CA\'s key (iotc-central certs verify-code), and upload it to verify.'));
            } catch (err) {
                inline(msg, 'error', `No code: ${errorText(err)}`);
            }
        });
        verify.addEventListener('click', async () => {
            const text = await fileText(proof);
            if (!text) return inline(msg, 'error', 'Choose the verification certificate file first.');
            try {
                await post(`${base}/verify`, { certificate: text });
                notify(`The ${slot} CA certificate of ${group.id} is verified.`);
                refresh();
            } catch (err) {
                inline(msg, 'error', `Not verified: ${errorText(err)}`);
            }
            return null;
        });
        add(actions, code, codeBox, h('label', { for: `x509-proof-${id}` }, 'Verification certificate'), proof, verify);
    }
    add(actions, msg);
    cells.push(actions);
    return h('tr', {}, ...cells);
}

/** The Administration page's X.509 enrollment groups (administrators). */
export function x509Groups() {
    const box = h('section', { class: 'card', 'aria-labelledby': 'x509-h', id: 'x509-groups' }, h('h2', { id: 'x509-h' }, 'X.509 enrollment groups'));
    const listBox = h('div', {});
    const gid = h('input', { id: 'x509-new-id', type: 'text', required: true, spellcheck: 'false' });
    const msg = h('p', { class: 'msg', hidden: true, role: 'alert' });
    const form = h('form', { id: 'x509-form', novalidate: true },
        h('div', { class: 'fields' }, h('div', {}, h('label', { for: 'x509-new-id' }, 'New group ID'), gid)),
        msg, h('button', { type: 'submit', class: 'small' }, 'Create X.509 group'));
    add(box, h('p', { class: 'muted' }, 'Devices whose certificate chains to a verified CA certificate of an enabled group, with the device ID as CN, register through DPS.'), listBox, form);

    async function refresh() {
        try {
            const groups = (await list('/api/enrollmentGroups')).filter((g) => g.attestation && g.attestation.type === 'x509');
            if (groups.length === 0) {
                clear(listBox, h('p', { class: 'muted' }, 'No X.509 enrollment groups.'));
                return;
            }
            clear(listBox, ...groups.map((g) => {
                const sc = (g.attestation.x509 && g.attestation.x509.signingCertificates) || {};
                return h('div', { class: 'x509-group' }, h('h3', {}, `${g.displayName} (${g.id})${g.enabled ? '' : ' — disabled'}`),
                    table(`CA certificates of ${g.id}`, ['Entry', 'State', 'SHA-1 thumbprint', 'Actions'],
                        SLOTS.map((s) => entryRow(g, s, sc[s], refresh))));
            }));
        } catch (err) {
            clear(listBox, h('p', { class: 'msg error', role: 'alert' }, `Groups cannot be listed: ${errorText(err)}`));
        }
    }
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!/^[A-Za-z0-9._:-]{1,128}$/.test(gid.value)) {
            inline(msg, 'error', 'Group ID: 1 to 128 letters, digits, ".", "_", ":" or "-".');
            return;
        }
        try {
            await put(`/api/enrollmentGroups/${seg(gid.value)}`, { displayName: gid.value, type: 'iot', attestation: { type: 'x509' } });
            inline(msg, 'ok', `${gid.value} created; upload its CA certificate.`);
            gid.value = '';
            refresh();
        } catch (err) {
            inline(msg, 'error', `Not created: ${errorText(err)}`);
        }
    });
    refresh();
    return box;
}
