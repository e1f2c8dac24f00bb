"""The knowledge base (知识库): articles units own and the centre publishes, searched in Chinese.

- ``models``: request bodies
- ``store``: articles, versions and the review flow (a unit drafts, the centre publishes)
- ``index``: the bigram document of a version and the query of a search
- ``search``: ranked search and suggestions over published, currently valid articles
- ``usage``: articles viewed and cited on orders; per-article direct-answer figures
- ``transfer``: admin import and export (JSON)
"""
