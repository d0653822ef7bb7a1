#!/usr/bin/env python3
"""page_tables.py HTML_FILE - the tables of a page as a browser left it
(chromium --dump-dom), for tests/e2e/serve-browser.sh: prints one JSON
object {table id: [row, ...]}, a row being the list of its body cells,
each {"text": the cell's text, "title": the text of its class="title"
element or null, "links": [href, ...]}, and "body": the <body>'s
attributes.  Header rows (<th>) are left out.  Standard library only."""
import html.parser
import json
import sys


class Tables(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.body = {}, {}
        self.table = self.row = self.cell = None
        self.in_title = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "table":
            self.table = self.tables.setdefault(a.get("id", ""), [])
        elif tag == "tr" and self.table is not None:
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = {"text": "", "title": None, "links": []}
        elif self.cell is not None:
            if tag == "a" and "href" in a:
                self.cell["links"].append(a["href"])
            if "title" in (a.get("class") or "").split():
                self.cell["title"] = ""
                self.in_title = 1
            elif self.in_title:
                self.in_title += 1

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.cell["text"] = self.cell["text"].strip()
            self.row.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.table.append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None
        elif self.in_title:
            self.in_title -= 1

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
            if self.in_title:
                self.cell["title"] += data


p = Tables()
p.feed(open(sys.argv[1], encoding="utf-8").read())
print(json.dumps({"tables": p.tables, "body": p.body}))
