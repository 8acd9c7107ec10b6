"""The explain page in a real browser: Debian's Chromium driven by selenium, the file
opened from disk. Skipped where no browser is installed; `.ci/run` installs one."""

import os

import numpy as np
import pytest

from tests.explain import chromium
from tests.explain.chromium import open_page, requests_made
from tests.explain.conftest import TEXT
from tf_transformer.explain import trace_bert, trace_gpt, trace_translation, write_page

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
MISSING = "no Chromium and ChromeDriver (Debian: apt-get install chromium chromium-driver)"
# CI (`.ci/run`) installs them and sets REQUIRE_BROWSER: there, missing is a failure
pytestmark = pytest.mark.skipif(
    not chromium.available() and not os.environ.get("REQUIRE_BROWSER"), reason=MISSING
)


@pytest.fixture(scope="module")
def browser():
    if not chromium.available():
        pytest.fail(f"REQUIRE_BROWSER is set but there is {MISSING}")
    driver = chromium.start()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(translator, generator, fill_mask, tagger, feature_tagger, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    traces = {
        "translate": trace_translation(translator, TEXT, reference="sábado, 9 de junho de 1984"),
        "gpt": trace_gpt(generator, TEXT),
        "bert": trace_bert(fill_mask, "Saturday, [MASK] 9, 1984"),
        "tags": trace_bert(tagger, TEXT),
        "features": trace_bert(feature_tagger, FEATURE_TEXT),
    }
    return {name: (write_page(t, str(folder / f"{name}.html")), t) for name, t in traces.items()}


@pytest.mark.parametrize("family", ["translate", "gpt", "bert"])
def test_the_page_opens_offline_with_every_control_and_no_error(browser, pages, family):
    path, traced = pages[family]
    page = open_page(browser, path)
    errors = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    assert requests_made(page, path) == []
    chips = page.execute_script("return document.querySelectorAll('.chip[data-stream]').length")
    assert chips == sum(len(stream["ids"]) for stream in traced["tokens"])
    group = traced["attention"][0]["weights"]
    thumbnails = page.execute_script("return document.querySelectorAll('.grid canvas').length")
    assert thumbnails == group.shape[0] * group.shape[1]  # layers x heads
    groups = page.execute_script("return document.querySelectorAll('button.group').length")
    assert groups == len(traced["attention"])
    # no canvas is blank: each has more than one colour
    colours = page.execute_script(
        """return Array.from(document.querySelectorAll('canvas')).map((c) => {
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             const seen = new Set();
             for (let i = 0; i < d.length; i += 4) {
               seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
             }
             return seen.size; })"""
    )
    assert len(colours) >= thumbnails + 2 and min(colours) > 1


def test_choosing_layer_head_and_token_shows_what_python_computed(browser, pages):
    path, traced = pages["translate"]
    page = open_page(browser, path)
    for group, layer, head, query in [(0, 1, 2, 3), (2, 0, 1, 2), (1, 1, 3, 4)]:
        page.execute_script(
            f"explain.update({{group: {group}, layer: {layer}, head: {head}, query: {query}}})"
        )
        shown = page.execute_script("return explain.matrixRow()")
        expected = traced["attention"][group]["weights"][layer, head, query] / 65535
        np.testing.assert_allclose(shown, expected, atol=1e-6)
        worked = page.execute_script("return explain.worked()")
        np.testing.assert_allclose(worked["p"], expected, atol=2e-3)  # from float16 q and k
        assert page.execute_script("return location.hash") == (
            f"#g={group}&l={layer}&h={head}&q={query}&s=0&p=0&t=1"
        )
    # a link reopens the same view
    page = open_page(browser, path, "#g=2&l=1&h=3&q=1&s=1&p=1&t=0.5")
    state = page.execute_script("return explain.state")
    assert (state["group"], state["layer"], state["head"], state["query"]) == (2, 1, 3, 1)
    chosen = traced["output"]["chosen"]
    vocab = traced["vocabulary"]
    assert page.execute_script("return explain.current.token") == vocab[int(chosen[1])]
    logits = traced["output"]["logits"][1].astype(np.float64) / 0.5  # step 1, temperature 0.5
    top = np.exp(logits - logits.max()).max() / np.exp(logits - logits.max()).sum()
    assert abs(page.execute_script("return explain.current.top") - top) < 1e-6


@pytest.mark.parametrize("family", ["translate", "gpt", "bert"])
def test_raising_the_temperature_flattens_the_distribution(browser, pages, family):
    page = open_page(browser, pages[family][0])
    tops = []
    for temperature in (0.5, 1, 2):
        page.execute_script(f"explain.update({{temperature: {temperature}, topK: 0, topP: 1}})")
        current = page.execute_script("return explain.current")
        assert abs(current["sum"] - 1) < 1e-3
        tops.append(current["top"])
    assert tops[0] > tops[1] > tops[2]
    page.execute_script("explain.update({temperature: 0})")
    assert page.execute_script("return explain.current.top") == 1  # argmax


def test_top_k_and_top_p_cut_what_the_sampler_cuts(browser, pages):
    import tensorflow as tf

    from tf_transformer.generation.sampling import NEG_INF, filter_top_k, filter_top_p

    path, traced = pages["gpt"]
    page = open_page(browser, path)
    logits = traced["output"]["logits"][-1:].astype(np.float32)  # the last position's
    for temperature, top_k, top_p in [(0.7, 0, 0.5), (1.5, 40, 1.0), (1.0, 60, 0.3)]:
        page.execute_script(
            f"explain.update({{temperature: {temperature}, topK: {top_k}, topP: {top_p}}})"
        )
        scaled = tf.constant(logits / temperature)
        kept = filter_top_p(filter_top_k(scaled, top_k), top_p).numpy() > NEG_INF / 2
        assert page.execute_script("return explain.current.keptCount") == kept.sum()


FEATURE_TEXT = "Monday, June 9 Zürich"  # "Monday," "9" "Zürich" are not training words


@pytest.mark.parametrize("name", ["tags", "features"])
def test_the_tag_table_shows_the_served_tags(browser, pages, tagger, feature_tagger, name):
    page = open_page(browser, pages[name][0])
    assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []
    rows = page.execute_script(
        """const h = Array.from(document.querySelectorAll('h3'))
             .find((e) => e.textContent.startsWith('tags per word'));
           return Array.from(h.parentElement.querySelectorAll('tr'))
             .filter((r) => r.cells[0].tagName === 'TD')
             .map((r) => Array.from(r.cells).map((c) => c.textContent));"""
    )
    model, text = (tagger, TEXT) if name == "tags" else (feature_tagger, FEATURE_TEXT)
    served = [tag.decode() for tag in model.predict([text])["tags"][0]]
    assert [row[0] for row in rows] == text.split()
    assert [row[1] for row in rows] == served
    if name == "features":  # whether each word has a vector of its own
        assert [row[4] for row in rows] == ["no: spelling only", "yes", *["no: spelling only"] * 2]
    else:
        assert {len(row) for row in rows} == {4}


def test_keyboard_and_tables(browser, pages):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, traced = pages["gpt"]
    page = open_page(browser, path, "#g=0&l=0&h=0&q=2")
    selected = page.find_element(By.CSS_SELECTOR, '.grid canvas[aria-selected="true"]')
    selected.send_keys(Keys.ARROW_RIGHT)
    page.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    state = page.execute_script("return explain.state")
    assert (state["layer"], state["head"]) == (1, 1)
    # every chart's numbers as a table: the embedding norms, one row a token
    page.execute_script("document.querySelector('details.as-table').open = true")
    rows = page.execute_script(
        "return document.querySelector('details.as-table table').rows.length"
    )
    assert rows == 1 + len(traced["tokens"][0]["ids"])
