// Preloaded (node --import) into the interop test processes.
//
// The official service SDK (azure-iothub) passes the connection string's HostName straight to
// https.request({host}) and offers no public way to choose a port: with
// HostName=localhost:8443 Node looks up the name "localhost:8443" (ENOTFOUND), and the SDK's
// Registry/Client install their own https.Agent, so a global default port cannot help either.
// Real IoT Hub always listens on 443; a local hub on a free port needs this one adjustment:
// a `host` of the form name:port is split into host and port before Node sees it. The SDK
// itself is unchanged and still signs its SAS token over the HostName text it was given.
import https from 'node:https';

const request = https.request;
https.request = function (...args) {
    const o = args[0];
    if (o && typeof o === 'object' && !(o instanceof URL) && typeof o.host === 'string' && !o.port) {
        const m = /^([^:[\]]+|\[[^\]]+\]):(\d{1,5})$/.exec(o.host);
        if (m) {
            const host = m[1].replace(/^\[(.*)\]$/, '$1');
            args[0] = { ...o, host, port: Number(m[2]) };
        }
    }
    return request.apply(this, args);
};
