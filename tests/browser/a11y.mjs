// Accessibility basics checked in the page, for the browser tests: every visible form control
// and button has an accessible name, and visible text has a contrast of at least 4.5:1 against
// the background it is drawn on (WCAG 2 relative luminance; text over an image or a gradient is
// not judged). Each returns a list of problems in words, empty when all is well.

/** Problems of the controls under @p scope (a CSS selector): no name from label, aria-label(ledby) or text. */
export async function unnamedControls(page, scope = 'main') {
    return page.evaluate((sel) => {
        const root = document.querySelector(sel);
        if (!root) return [`no ${sel}`];
        const out = [];
        for (const el of root.querySelectorAll('input, select, textarea, button, summary')) {
            if (el.type === 'hidden' || !el.getClientRects().length) continue;
            const byFor = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null;
            const by = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
                .map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
            const name = [el.getAttribute('aria-label'), by, byFor && byFor.textContent, el.closest('label') && el.closest('label').textContent,
                ['BUTTON', 'SUMMARY'].includes(el.tagName) ? el.textContent : '', el.title].find((x) => x && x.trim());
            if (!name) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} has no accessible name`);
        }
        return out;
    }, scope);
}

/** Text under @p scope whose contrast with its background is below @p min. */
export async function lowContrast(page, scope = 'main', min = 4.5) {
    return page.evaluate(([sel, minRatio]) => {
        const parse = (c) => {
            const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
            return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : null;
        };
        const lum = ([r, g, b]) => {
            const f = (v) => {
                const s = v / 255;
                return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat(1);
        const background = (el) => {
            const layers = [];
            for (let e = el; e; e = e.parentElement) {
                const st = getComputedStyle(e);
                if (st.backgroundImage !== 'none') return null;
                const c = parse(st.backgroundColor);
                if (c && c[3] > 0) layers.push(c);
                if (c && c[3] === 1) break;
            }
            let bg = [255, 255, 255, 1];
            for (const c of layers.reverse()) bg = over(c, bg);
            return bg;
        };
        const root = document.querySelector(sel);
        if (!root) return [`no ${sel}`];
        const out = [];
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        const seen = new Set();
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const el = n.parentElement;
            if (!n.textContent.trim() || seen.has(el) || !el.getClientRects().length) continue;
            if (el.closest('button:disabled, select:disabled, input:disabled')) continue; // WCAG exempts inactive controls
            seen.add(el);
            const st = getComputedStyle(el);
            if (st.visibility === 'hidden' || Number(st.opacity) === 0) continue;
            const bg = background(el);
            const fg = parse(st.color);
            if (!bg || !fg) continue;
            const c = over(fg, bg);
            const [a, b] = [lum(c), lum(bg)].sort((x, y) => y - x);
            const ratio = (a + 0.05) / (b + 0.05);
            if (ratio < minRatio) out.push(`"${n.textContent.trim().slice(0, 40)}" (${el.tagName.toLowerCase()}.${el.className}): ${ratio.toFixed(2)}:1`);
        }
        return out;
    }, [scope, min]);
}
