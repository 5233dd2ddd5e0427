// A small, safe renderer for the CommonMark that CDS cards carry: paragraphs, nested "-"
// lists, **strong**, *emphasis*, `code`, backslash escapes and [links](http...). Text is
// always inserted as text (never as HTML); links other than http(s) are shown as text.

function inline(text, parent) {
  let i = 0;
  let buffer = '';
  const flush = () => {
    if (buffer) parent.append(document.createTextNode(buffer));
    buffer = '';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
      buffer += text[i + 1];
      i += 2;
      continue;
    }
    if (text.startsWith('**', i)) {
      const end = text.indexOf('**', i + 2);
      if (end > i + 2) {
        flush();
        const strong = document.createElement('strong');
        inline(text.slice(i + 2, end), strong);
        parent.append(strong);
        i = end + 2;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      const end = text.indexOf(c, i + 1);
      if (end > i + 1 && text[end - 1] !== '\\') {
        flush();
        const em = document.createElement('em');
        inline(text.slice(i + 1, end), em);
        parent.append(em);
        i = end + 1;
        continue;
      }
    }
    if (c === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i) {
        flush();
        const code = document.createElement('code');
        code.textContent = text.slice(i + 1, end);
        parent.append(code);
        i = end + 1;
        continue;
      }
    }
    if (c === '[') {
      const m = /^\[([^\]]*)\]\(([^)\s]*)\)/.exec(text.slice(i));
      if (m) {
        flush();
        if (/^https?:\/\//i.test(m[2])) {
          const a = document.createElement('a');
          a.href = m[2];
          a.target = '_blank';
          a.rel = 'noopener noreferrer';
          inline(m[1], a);
          parent.append(a);
        } else {
          parent.append(document.createTextNode(m[0]));
        }
        i += m[0].length;
        continue;
      }
    }
    buffer += c;
    i += 1;
  }
  flush();
}

// Renders `markdown` into `container`.
export function renderMarkdown(markdown, container) {
  const lines = String(markdown || '').split('\n');
  let paragraph = [];
  const stack = []; // [{indent, list}]
  const endParagraph = () => {
    if (paragraph.length) {
      const p = document.createElement('p');
      inline(paragraph.join(' '), p);
      container.append(p);
    }
    paragraph = [];
  };
  for (const line of lines) {
    const item = /^(\s*)- (.*)$/.exec(line);
    if (item) {
      endParagraph();
      const indent = item[1].length;
      while (stack.length && stack[stack.length - 1].indent > indent) stack.pop();
      if (!stack.length || stack[stack.length - 1].indent < indent) {
        const ul = document.createElement('ul');
        const parentItem = stack.length ? stack[stack.length - 1].list.lastElementChild : null;
        (parentItem || container).append(ul);
        stack.push({ indent, list: ul });
      }
      const li = document.createElement('li');
      inline(item[2], li);
      stack[stack.length - 1].list.append(li);
      continue;
    }
    if (!line.trim()) {
      endParagraph();
      stack.length = 0;
      continue;
    }
    stack.length = 0;
    paragraph.push(line.trim());
  }
  endParagraph();
}
