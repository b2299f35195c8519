"""The web fixture's homepage, in a real browser: served over HTTPS on the app's domain."""


def test_homepage_shows_the_site_title(page, base_url):
    response = page.goto(base_url + "/")
    assert response is not None and response.ok
    assert page.locator("h1").inner_text() == "web fixture"
    assert page.title() == "web fixture"
