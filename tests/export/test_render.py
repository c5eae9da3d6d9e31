"""render: one row per sentence, an arc per drawable triple, every triple in a table."""
import re

import spacy
from spacy.tokens import Doc

from spacy_triples import render
from spacy_triples.cli import main
from spacy_triples.render import sentence_rows


def _doc():
    nlp = spacy.blank("en")
    words = ("The University of Chicago was founded by John <Rockefeller> . "
             "Paris is the capital of France .").split()
    doc = Doc(nlp.vocab, words=words)
    doc._.triples = [
        (doc[1:4], "located_in", doc[3:4], 0.9),   # nested: table only
        (doc[1:4], "founded_by", doc[7:9], 0.8),
        (doc[10:11], "capital_of", doc[15:16], 0.7),
        (doc[10:11], "located_in", doc[15:16], 0.6),  # same pair, second relation
        (doc[7:9], "knows", doc[10:11], 0.5),      # crosses sentences: in its subject's table only
    ]
    return doc


def test_render_structure():
    doc = _doc()
    assert [s.text for s in sentence_rows(doc)] == [
        "The University of Chicago was founded by John <Rockefeller> .", "Paris is the capital of France ."]
    markup = render(doc, jupyter=False)
    assert markup.startswith("<!DOCTYPE html>") and "</html>" in markup
    assert markup.count('class="st-row"') == 2
    arc_labels = re.findall(r'<textPath[^>]*>([^<]+)</textPath>', markup)
    # drawn: founded_by, and both relations of Paris -> France; not the nested or cross-sentence ones
    assert sorted(arc_labels) == ["capital_of", "founded_by", "located_in"]
    assert markup.count("<tr><td>") == 5  # every triple listed once, in its subject's row
    assert "<td><b>knows</b></td>" in markup
    assert "&lt;Rockefeller&gt;" in markup and "<Rockefeller>" not in markup


def test_render_fragment_and_empty_doc():
    nlp = spacy.blank("en")
    markup = render([nlp(""), nlp("No facts here .")], page=False, jupyter=False)
    assert not markup.startswith("<!DOCTYPE") and markup.count("no triples") == 2


def test_render_cli(tmp_path, trained_model_dir):
    out = tmp_path / "page.html"
    assert main(["render", str(trained_model_dir), "Barack Obama was born in Honolulu .", "--output", str(out)]) == 0
    assert "born_in" in out.read_text(encoding="utf8")
    assert main(["render", str(trained_model_dir)]) == 1
