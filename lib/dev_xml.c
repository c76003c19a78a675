/* dev_xml.c - how domfs reads and writes device XML with libxml2.
 *
 * Reading is locked down: no network, no entity substitution, a DOCTYPE stops the parser
 * before any declaration is read (billion laughs and XXE never start), libxml2's own depth
 * and size limits, 16 MiB at most. Writing follows libvirt's style (single-quoted
 * attributes, its escaping) so that an element round-trips to the text libvirt reported.
 * The small tree helpers only ever look at libvirt's own, namespace-less elements.
 */
#define G_LOG_DOMAIN "domfs-dev"

#include "dev_xml.h"

#include <string.h>

#include <libxml/parser.h>

/* No XML_PARSE_NOENT (entities are never substituted), no DTDLOAD/DTDVALID/XINCLUDE,
 * no HUGE (keep libxml2's depth and text-size limits), errors are not printed. */
#define DEV_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static void
refuse_doctype(void *ctx, const xmlChar *name G_GNUC_UNUSED,
               const xmlChar *external_id G_GNUC_UNUSED,
               const xmlChar *system_id G_GNUC_UNUSED)
{
    xmlParserCtxtPtr ctxt = ctx;
    gboolean *saw_doctype = ctxt->_private;

    /* Called before the internal subset is read: stopping here means no entity
     * declaration is ever parsed, which defeats billion-laughs and XXE at the root. */
    *saw_doctype = TRUE;
    xmlStopParser(ctxt);
}

static void
xml_init_once(void)
{
    static gsize done;

    /* libxml2 wants its globals set up once before parsers run in several threads */
    if (g_once_init_enter(&done)) {
        xmlInitParser();
        g_once_init_leave(&done, 1);
    }
}

xmlDoc *
dev_xml_read(const char *xml, size_t len)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDoc *doc = NULL;
    gboolean saw_doctype = FALSE;

    if (!xml || len == 0 || len > DEV_XML_MAX)
        goto out;
    xml_init_once();
    ctxt = xmlNewParserCtxt();
    if (!ctxt)
        goto out;
    ctxt->_private = &saw_doctype;
    ctxt->sax->internalSubset = refuse_doctype;
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, NULL, DEV_XML_OPTIONS);
    if (doc && (saw_doctype || !ctxt->wellFormed || doc->intSubset || doc->extSubset)) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    /* Without a declared encoding libxml2 writes non-ASCII attribute characters as
     * &#x..; references; libvirt's XML is UTF-8, keep it readable as such. */
    if (doc && !doc->encoding)
        doc->encoding = xmlStrdup(BAD_CAST "UTF-8");
out:
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    return doc;
}

/* libvirt writes XML with its own escaping (virBufferEscapeString: & < > ' ") and single
 * quotes around attribute values; libxml2's serializer would use double quotes. So that
 * `xml` files hold an element exactly as libvirt reports it, serialize in libvirt's style,
 * keeping the document's own whitespace text nodes. */
static void
dev_xml_escape(GString *out, const char *s, gboolean attr)
{
    for (; s && *s; s++) {
        /* in an attribute, a literal tab or newline would come back as a space */
        if (attr && (*s == '\t' || *s == '\n' || *s == '\r')) {
            g_string_append_printf(out, "&#%d;", *s);
            continue;
        }
        switch (*s) {
        case '&': g_string_append(out, "&amp;"); break;
        case '<': g_string_append(out, "&lt;"); break;
        case '>': g_string_append(out, "&gt;"); break;
        case '\'': g_string_append(out, "&apos;"); break;
        case '"': g_string_append(out, "&quot;"); break;
        default: g_string_append_c(out, *s); break;
        }
    }
}

static void
dev_xml_qname(GString *out, const xmlNs *ns, const xmlChar *name)
{
    if (ns && ns->prefix)
        g_string_append_printf(out, "%s:", (const char *)ns->prefix);
    g_string_append(out, (const char *)name);
}

static void
dev_xml_write(GString *out, const xmlNode *node, unsigned int depth)
{
    if (depth > 256)
        return;   /* libvirt device XML is a few levels deep; parsing already bounds it */
    switch (node->type) {
    case XML_ELEMENT_NODE:
        g_string_append_c(out, '<');
        dev_xml_qname(out, node->ns, node->name);
        for (const xmlNs *ns = node->nsDef; ns; ns = ns->next) {
            g_string_append(out, ns->prefix ? " xmlns:" : " xmlns");
            if (ns->prefix)
                g_string_append(out, (const char *)ns->prefix);
            g_string_append(out, "='");
            dev_xml_escape(out, (const char *)ns->href, TRUE);
            g_string_append_c(out, '\'');
        }
        for (const xmlAttr *a = node->properties; a; a = a->next) {
            xmlChar *v = xmlNodeListGetString(node->doc, a->children, 1);

            g_string_append_c(out, ' ');
            dev_xml_qname(out, a->ns, a->name);
            g_string_append(out, "='");
            dev_xml_escape(out, (const char *)v, TRUE);
            g_string_append_c(out, '\'');
            xmlFree(v);
        }
        if (!node->children) {
            g_string_append(out, "/>");
            break;
        }
        g_string_append_c(out, '>');
        for (const xmlNode *c = node->children; c; c = c->next)
            dev_xml_write(out, c, depth + 1);
        g_string_append(out, "</");
        dev_xml_qname(out, node->ns, node->name);
        g_string_append_c(out, '>');
        break;
    case XML_TEXT_NODE:
        dev_xml_escape(out, (const char *)node->content, FALSE);
        break;
    case XML_CDATA_SECTION_NODE:
        g_string_append_printf(out, "<![CDATA[%s]]>", (const char *)node->content);
        break;
    case XML_COMMENT_NODE:
        g_string_append_printf(out, "<!--%s-->", (const char *)node->content);
        break;
    default:
        break;
    }
}

char *
dev_xml_dump(xmlDoc *doc, xmlNode *node)
{
    GString *out = g_string_new(NULL);

    dev_xml_write(out, node, 0);
    return g_string_free(out, FALSE);
}


/* libvirt's own elements carry no namespace; anything namespaced is someone else's */
gboolean
dev_xml_is_el(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && !n->ns &&
           strcmp((const char *)n->name, name) == 0;
}

xmlNode *
dev_xml_child(const xmlNode *parent, const char *name)
{
    for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
        if (dev_xml_is_el(n, name))
            return n;
    return NULL;
}

/* g_malloc'd copy of attribute NAME of N, NULL when N or the attribute is absent */
char *
dev_xml_prop(const xmlNode *n, const char *name)
{
    xmlChar *v = n ? xmlGetNoNsProp(n, BAD_CAST name) : NULL;
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}
