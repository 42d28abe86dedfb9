"""RerankList in a real JupyterLab: typing reranks in the kernel, the slider cuts the list,
and document text is shown, never run."""

from __future__ import annotations

from typing import Any

EVIL = '<img src=x onerror="window.__enb_pwned=1"><script>window.__enb_pwned=2</script>'

CELLS = [
    "import embed_nb\n"
    "from embed_nb.datasets import panda_example\n"
    "from embed_nb.widgets import RerankList\n"
    "model = embed_nb.load_model('all-minilm-l6-v2')\n"
    "query, docs = panda_example()\n"
    f"docs = docs + [{EVIL!r}]\n"
    "w = RerankList('', docs, model=model, top_n=5)\n"
    "w",
]


def test_rerank_list_reranks_as_you_type(notebook: Any) -> None:
    nb = notebook("rerank.ipynb", CELLS)
    page = nb.page
    root = page.locator(".enb-rr")
    root.wait_for(state="visible", timeout=30_000)
    query = nb.eval("query")
    box = page.locator(".enb-rr .enb-query")
    box.fill(query)  # live: reranked after a short pause, no Enter needed
    page.wait_for_selector(f".enb-rr[data-query={query!r}]", timeout=20_000)
    expected = nb.eval("w.ranking")
    rows = page.locator(".enb-rr .enb-rr-row")
    assert [int(r.get_attribute("data-index")) for r in rows.all()] == expected[:5]
    assert nb.eval("w.result.documents[0]") in rows.first.inner_text()
    assert "cosine" in page.locator(".enb-rr-info").inner_text()
    nb.screenshot(root, "rerank-list.png")

    # The slider cuts the list; Python sees it.
    slider = page.locator(".enb-rr .enb-top-n")
    slider.fill("2")
    page.wait_for_selector(".enb-rr[data-rows='2']", timeout=10_000)
    assert nb.wait_for_kernel("w.top_n == 2")

    # The malicious document is shown as text.
    slider.fill("5")
    page.wait_for_selector(".enb-rr[data-rows='5']", timeout=10_000)
    assert "onerror" in root.inner_text()
    assert page.locator(".enb-rr img, .enb-rr-list script").count() == 0
    assert page.evaluate("window.__enb_pwned") is None
