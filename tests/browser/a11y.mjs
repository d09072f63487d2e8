// Accessibility basics checked in the page, for the browser tests: every visible form control
// and button has an accessible name, and visible text has a contrast of at least 4.5:1 against
// the background it is drawn on (WCAG 2 relative luminance; text over an image or a gradient is
// not judged). unnamedControls returns a list of problems in words, lowContrast one object per
// text (text, ratio, colours, element); both are empty when all is well. The one contrast check of
// the browser tests.

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

/**
 * Text under @p scope (a CSS selector, default the whole body) whose contrast with the background
 * it is drawn on is below @p min (WCAG 2 ratio of relative luminances). The background is every
 * (translucent) layer of the element and its ancestors composed over white; text over an image or
 * a gradient, hidden, screen-reader-only or disabled (WCAG 1.4.3 exempts inactive controls) is not
 * judged. Returns [{text, ratio, fg, bg, el}] for each element with its own text; [] when all pass.
 */
export async function lowContrast(page, { scope = 'body', min = 4.5 } = {}) {
    return page.evaluate(([sel, minRatio]) => {
        // rgb(1, 2, 3), rgba(1, 2, 3, 0.5) and rgb(1 2 3 / 0.5)
        const parse = (c) => {
            const m = /rgba?\(([^)]+)\)/.exec(c);
            if (!m) return null;
            const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
            return p.length >= 3 ? [p[0], p[1], p[2], p.length > 3 ? p[3] : 1] : null;
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
        if (!root) return [{ text: `no ${sel}`, ratio: 0 }];
        const out = [];
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        const seen = new Set();
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            const el = n.parentElement;
            if (!el || !n.textContent.trim() || seen.has(el) || !el.getClientRects().length) continue;
            seen.add(el);
            if (el.closest('[hidden], .sr-only, option, script, style')) continue;
            if (el.closest('button:disabled, select:disabled, input:disabled')) continue;
            const st = getComputedStyle(el);
            if (st.visibility === 'hidden' || st.display === 'none' || Number(st.opacity) === 0) continue;
            const bg = background(el);
            const fg = parse(st.color);
            if (!bg || !fg) continue;
            const c = over(fg, bg);
            const [a, b] = [lum(c), lum(bg)].sort((x, y) => y - x);
            const ratio = (a + 0.05) / (b + 0.05);
            if (ratio < minRatio) {
                out.push({
                    text: n.textContent.trim().slice(0, 40),
                    ratio: Number(ratio.toFixed(2)),
                    fg: st.color,
                    bg: `rgb(${bg.slice(0, 3).map(Math.round).join(',')})`,
                    el: `${el.tagName.toLowerCase()}${el.className ? `.${el.className}` : ''}`,
                });
            }
        }
        return out;
    }, [scope, min]);
}
