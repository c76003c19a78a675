/* dev_xml.h - the one way domfs parses and serializes device XML (libxml2). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

/* The one way domfs reads device XML: no network, no entity
 * substitution, and a document with a DOCTYPE is refused outright, so no entity can be
 * declared, let alone expanded (libvirt never emits one). NULL when malformed, empty or
 * over DEV_XML_MAX bytes. Free with xmlFreeDoc(). */
#define DEV_XML_MAX ((size_t)16 * 1024 * 1024)
xmlDoc *dev_xml_read(const char *xml, size_t len);
/* NODE serialized as it stands in DOC (xmlNodeDump, no reformatting); g_free() it.
 * NULL only on allocation failure. */
char *dev_xml_dump(xmlDoc *doc, xmlNode *node);

/* Is N libvirt's element NAME (no namespace)? */
gboolean dev_xml_is_el(const xmlNode *n, const char *name);
/* The first such child element of PARENT, or NULL. */
xmlNode *dev_xml_child(const xmlNode *parent, const char *name);
/* g_malloc'd copy of attribute NAME of N, NULL when N or the attribute is absent. */
char *dev_xml_prop(const xmlNode *n, const char *name);
