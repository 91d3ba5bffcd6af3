import MarkdownIt from "markdown-it";

/**
 * Organizers' prose (the competition page's sections, the terms) as HTML. Markdown only: raw HTML in
 * the text is shown as text (html: false), links go only to http(s), mailto or this site, and
 * images are not rendered (a remote image would tell a third party who reads the page; the
 * content security policy would block it anyway). Whatever an organizer's account writes, or
 * whoever took it over, the page cannot be made to run a script.
 */
const md = new MarkdownIt({ html: false, linkify: false, typographer: false });
md.disable("image");

const SAFE_LINK = /^(https?:\/\/|mailto:|\/(?!\/)|#)/i;
md.validateLink = (url: string) => SAFE_LINK.test(url.trim());

// Links leave the site without our referrer and without standing for us (rel=nofollow).
const defaultLinkOpen =
  md.renderer.rules.link_open ??
  ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]?.attrSet("rel", "nofollow noopener noreferrer");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/** The HTML of organizer-written Markdown: safe to place in a page as it is. */
export function renderMarkdown(text: string): string {
  return md.render(text);
}
