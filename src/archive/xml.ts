// A minimal XML 1.0 writer for octoscan.xml. Hand-written on purpose: the
// libraries tried (xmlbuilder2, xml-escape) leave tab, CR and LF raw inside
// attributes, where a parser normalises them to spaces, so a value would not
// parse back to the same text. Here every value round-trips, and characters
// XML 1.0 cannot hold at all become U+FFFD (spec section 8).

export interface XmlElement {
  name: string;
  attrs: [string, string][]; // ordered: the spec fixes attribute order
  children: XmlElement[];
}

export function el(name: string, attrs: [string, string][] = [], children: XmlElement[] = []): XmlElement {
  return { name, attrs, children };
}

// Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
// Lone surrogates are invalid too; the 'u' flag makes the class see code points.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function escapeAttr(value: string): string {
  return value.replace(NOT_XML_CHAR, '\uFFFD').replace(/[&<>"\t\n\r]/g, (c) => ATTR_ESCAPES[c]);
}

const ATTR_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

/** Pretty-printed with the given indent; empty elements self-close like ElementTree's `<a/>`. */
export function serialize(root: XmlElement, declaration: string, indent = '    '): string {
  const out: string[] = [declaration];
  const walk = (node: XmlElement, depth: number): void => {
    const pad = indent.repeat(depth);
    const attrs = node.attrs.map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
    if (node.children.length === 0) {
      out.push(`${pad}<${node.name}${attrs}/>`);
      return;
    }
    out.push(`${pad}<${node.name}${attrs}>`);
    for (const child of node.children) walk(child, depth + 1);
    out.push(`${pad}</${node.name}>`);
  };
  walk(root, 0);
  return out.join('\n') + '\n';
}
