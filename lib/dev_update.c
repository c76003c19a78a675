/* dev_update.c - the device XML for a write to a cdrom's/floppy's source or to an
 * interface's link_state (see dev_update.h).
 *
 * How it works: the element's current XML is read with dev_xml_read() (the same
 * locked-down libxml2 parser as the model), the tree is changed with libxml2 calls and the
 * root element is serialized again with dev_xml_dump(). Values only ever enter the tree
 * through xmlSetProp(), so quotes, '<' and '&' in a path are escaped by libxml2 on output.
 *
 * Media changes keep what still makes sense for the new medium (driver, target, address,
 * alias, startupPolicy, a <seclabel> inside <source>) and drop what described the old
 * one: <backingStore> and the source's index=. A network or volume (or any non-local)
 * cdrom becomes type='file', because a path is a file; on eject it becomes type='file'
 * too, since libvirt only accepts an empty medium for local types.
 *
 * *out_xml and *errmsg are g_malloc'd (g_free them); *errmsg is set only on failure.
 */
#define G_LOG_DOMAIN "domfs-dev"

#include "dev_update.h"
#include "verr.h"
#include "dev_model.h"
#include "dev_xml.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <libxml/tree.h>

#define PATH_MAX_BYTES 4096


/* the indentation in front of an element, if that is what precedes it */
static xmlNode *
indent_before(xmlNode *n)
{
    return n->prev && n->prev->type == XML_TEXT_NODE && xmlIsBlankNode(n->prev) ? n->prev : NULL;
}

static void
drop_children(xmlNode *parent, const char *name)
{
    xmlNode *next;
    xmlNode *indent;

    for (xmlNode *n = parent->children; n; n = next) {
        next = n->next;
        if (!dev_xml_is_el(n, name))
            continue;
        /* take its line along, so the xml file shows no blank line where it was */
        if ((indent = indent_before(n))) {
            xmlUnlinkNode(indent);
            xmlFreeNode(indent);
        }
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
}

/* Parse XML and check that its root is <NAME>. */
static int
read_element(const char *xml, const char *name, xmlDoc **out, char **errmsg)
{
    xmlDoc *doc = dev_xml_read(xml, strlen(xml));
    int ret = 0;

    if (!doc) {
        ret = verr_set(errmsg, EINVAL, "the current <%s> XML could not be parsed", name);
        goto out;
    }
    if (!dev_xml_is_el(xmlDocGetRootElement(doc), name)) {
        ret = verr_set(errmsg, EINVAL, "the device XML is not a <%s> element", name);
        goto out;
    }
    *out = g_steal_pointer(&doc);
out:
    if (doc)
        xmlFreeDoc(doc);
    return ret;
}

static int
finish(xmlDoc *doc, char **out_xml)
{
    *out_xml = dev_xml_dump(doc, xmlDocGetRootElement(doc));
    return *out_xml ? 0 : -ENOMEM;
}

static int
check_path(const char *path, char **errmsg)
{
    size_t len = strlen(path);

    if (len > PATH_MAX_BYTES)
        return verr_set(errmsg, EINVAL, "the path is %zu bytes long, at most %d are allowed", len,
                    PATH_MAX_BYTES);
    if (path[0] != '/')
        return verr_set(errmsg, EINVAL, "the path must be absolute (start with '/')");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
            return verr_set(errmsg, EINVAL, "the path holds a control character (byte 0x%02x at offset %zu)",
                        (unsigned char)path[i], i);
    /* XML cannot carry anything else, and libvirt would refuse it */
    if (!g_utf8_validate(path, (gssize)len, NULL))
        return verr_set(errmsg, EINVAL, "the path is not valid UTF-8");
    return 0;
}

/* types whose empty medium libvirt accepts, and whose source is a local path */
static gboolean
is_local_type(const char *type)
{
    return !type || strcmp(type, "file") == 0 || strcmp(type, "block") == 0 ||
           strcmp(type, "dir") == 0;
}

/* NODE right after REF, on a line of its own indented like REF when the XML is indented */
static void
insert_after(xmlNode *ref, xmlNode *node)
{
    xmlNode *indent = indent_before(ref);

    xmlAddNextSibling(ref, node);
    if (indent)
        xmlAddPrevSibling(node, xmlCopyNode(indent, 0));
}

static xmlNode *
first_element(xmlNode *parent)
{
    for (xmlNode *n = parent->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static xmlNode *
last_element(xmlNode *parent)
{
    for (xmlNode *n = parent->last; n; n = n->prev)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

/* A new <source> where libvirt puts it: right after <driver>, else first. */
static xmlNode *
new_source(xmlNode *disk)
{
    xmlNode *src = xmlNewDocNode(disk->doc, NULL, BAD_CAST "source", NULL);
    xmlNode *driver = dev_xml_child(disk, "driver");
    xmlNode *first = first_element(disk);
    xmlNode *indent;

    if (driver) {
        insert_after(driver, src);
    } else if (first) {
        xmlAddPrevSibling(first, src);
        if ((indent = indent_before(src)))
            xmlAddNextSibling(src, xmlCopyNode(indent, 0));
    } else {
        xmlAddChild(disk, src);
    }
    return src;
}

int
dev_update_disk_source(const char *disk_xml, const char *path, char **out_xml, char **errmsg)
{
    xmlDoc *doc = NULL;
    xmlNode *disk;
    xmlNode *src;
    g_autofree char *device = NULL;
    g_autofree char *type = NULL;
    g_autofree char *startup = NULL;
    const char *attr;
    int ret;

    if (out_xml)
        *out_xml = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (!disk_xml || !path || !out_xml) {
        ret = verr_set(errmsg, EINVAL, "missing argument");
        goto out;
    }
    if (*path && (ret = check_path(path, errmsg)) < 0)
        goto out;
    if ((ret = read_element(disk_xml, "disk", &doc, errmsg)) < 0)
        goto out;
    disk = xmlDocGetRootElement(doc);
    device = dev_xml_prop(disk, "device");
    if (!device || (strcmp(device, "cdrom") != 0 && strcmp(device, "floppy") != 0)) {
        ret = verr_set(errmsg, EINVAL, "only a cdrom's or floppy's medium can be changed, this disk is a %s",
                   device ? device : "disk");
        goto out;
    }
    type = dev_xml_prop(disk, "type");
    /* the backing chain belongs to the old medium */
    drop_children(disk, "backingStore");

    if (!*path) {
        drop_children(disk, "source");
        if (!is_local_type(type))
            xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
        ret = finish(doc, out_xml);
        goto out;
    }

    src = dev_xml_child(disk, "source");
    if (!is_local_type(type)) {
        /* protocol, hosts, pool, auth... describe the old medium; startupPolicy is
         * valid for a file too */
        startup = dev_xml_prop(src, "startupPolicy");
        drop_children(disk, "source");
        drop_children(disk, "auth");
        xmlSetProp(disk, BAD_CAST "type", BAD_CAST "file");
        g_free(type);
        type = g_strdup("file");
        src = NULL;
    }
    if (!src)
        src = new_source(disk);
    if (startup)
        xmlSetProp(src, BAD_CAST "startupPolicy", BAD_CAST startup);
    /* the storage node index of the old image */
    xmlUnsetProp(src, BAD_CAST "index");
    if (type && strcmp(type, "block") == 0)
        attr = "dev";
    else if (type && strcmp(type, "dir") == 0)
        attr = "dir";
    else
        attr = "file";
    xmlSetProp(src, BAD_CAST attr, BAD_CAST path);
    ret = finish(doc, out_xml);
out:
    if (doc)
        xmlFreeDoc(doc);
    return ret;
}

int
dev_update_link_state(const char *iface_xml, const char *state, char **out_xml, char **errmsg)
{
    xmlDoc *doc = NULL;
    xmlNode *iface;
    xmlNode *link;
    int ret;

    if (out_xml)
        *out_xml = NULL;
    if (errmsg)
        *errmsg = NULL;
    if (!iface_xml || !state || !out_xml) {
        ret = verr_set(errmsg, EINVAL, "missing argument");
        goto out;
    }
    if (strcmp(state, "up") != 0 && strcmp(state, "down") != 0) {
        ret = verr_set(errmsg, EINVAL, "link_state must be \"up\" or \"down\"");
        goto out;
    }
    if ((ret = read_element(iface_xml, "interface", &doc, errmsg)) < 0)
        goto out;
    iface = xmlDocGetRootElement(doc);
    link = dev_xml_child(iface, "link");
    if (!link) {
        xmlNode *last = last_element(iface);

        link = xmlNewDocNode(doc, NULL, BAD_CAST "link", NULL);
        if (last)
            insert_after(last, link);
        else
            xmlAddChild(iface, link);
    }
    xmlSetProp(link, BAD_CAST "state", BAD_CAST state);
    ret = finish(doc, out_xml);
out:
    if (doc)
        xmlFreeDoc(doc);
    return ret;
}
