"""The web console (话务员工作台, 承办单位工作台, 监督与统计): server-rendered pages that read the
JSON API with the signed-in user's session cookie, and a small script layer for live parts."""
