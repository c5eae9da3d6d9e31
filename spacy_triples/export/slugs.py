"""IRI-safe, collision-free ids of entities, relations and documents: the node ids of the GraphML
writer, the IRIs of the RDF writer and the ids of ``graph``'s store.

Slugs never merge distinct entities: the text is NFKC-normalised, lower-cased and its whitespace
collapsed (that is the entity identity), spaces become ``_``, letters and digits stay, and every other
character ("+", "#", "_", emoji, control characters) is percent-encoded, so "C", "C++" and "C#" are
three ids.
"""
import unicodedata


def _encode(text: str, keep: str, space: str) -> str:
    out = []
    for ch in text:
        if ch == " " and space:
            out.append(space)
        elif (ch.isalnum() and ch.isprintable()) or ch in keep:
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf8", "surrogatepass")))
    return "".join(out)


def slug(text: str) -> str:
    """IRI-safe, collision-free id of an entity's normalised text (NFKC, lower case, whitespace runs
    as one space, stripped): spaces become '_', letters, digits and "-.~" stay, every other character
    (including '_' and '%') is percent-encoded as UTF-8. Two texts get the same slug only when they
    normalise to the same text; an empty (or all-whitespace) text is '_'."""
    text = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return _encode(text, "-.~", space="_") or "_"


def relation_slug(label: str) -> str:
    """IRI-safe, collision-free id of a relation label: the label itself (case and '_' kept), every
    other character percent-encoded ("born in" -> "born%20in", distinct from "born_in")."""
    return _encode(label, "-.~_", space="")


def doc_slug(doc_id) -> str:
    """IRI-safe, collision-free id of a document id (exact, percent-encoded like a relation)."""
    return relation_slug(str(doc_id)) or "_"
