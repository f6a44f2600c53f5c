"""Community news (信息速递): supervisors publish per community; residents read a public page and
an Atom feed and follow by Web Push; grid workers see it in the app to forward (docs/news.md)."""
