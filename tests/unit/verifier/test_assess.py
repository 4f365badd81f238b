"""Structural assessment on fixed cases: names, bounds, compounds, short forms."""

from __future__ import annotations

import pytest

from agent_os.verifier._assess import assess
from agent_os.verifier._judges import _blend
from agent_os.verifier._normalise import read

#: An embedding that finds two answers very alike (cosine ~0.9, rescaled).
ALIKE = 0.8

OTHER_NAMES = [
    ("Ada Lovelace", "Grace Hopper"),
    ("Lake Geneva", "Loch Ness"),
    ("Tokyo", "Osaka"),
    # A short answer without capitals may be a name.
    ("Lake Geneva", "loch ness"),
    ("Marie Curie", "lise meitner"),
]


@pytest.mark.parametrize(("a", "b"), OTHER_NAMES)
def test_names_with_no_word_in_common_are_not_made_alike_by_the_embedding(a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        found = assess(x, y)
        assert not found.decisive
        assert found.embedding_weight < 0.5
        assert _blend(found, ALIKE) < 0.5


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # Not names: words the embedding may rightly find to mean the same.
        ("a quick reply", "a fast answer"),
        # A long answer in lower case is not taken for a name.
        ("Lake Geneva", "a large body of fresh water in the alps"),
        # Neither answer is written as a name.
        ("tokyo", "osaka"),
    ],
)
def test_the_embedding_counts_in_full_where_not_both_are_names(a: str, b: str) -> None:
    found = assess(a, b)
    assert not found.decisive
    assert found.embedding_weight == 1.0
    assert _blend(found, ALIKE) >= 0.5


def test_alike_spelling_still_lifts_names() -> None:
    # Two spellings of one name, too far apart to be aligned as one word.
    found = assess("Tchaikovsky", "Chaikovski")
    assert found.resemblance > 0.3
    assert _blend(found, ALIKE) > _blend(assess("Tchaikovsky", "Rachmaninoff"), ALIKE)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Venus Williams", "serena williams"), ("venus williams", "Serena Williams")],
)
def test_a_lower_case_name_sharing_one_word_is_a_swapped_entity(a: str, b: str) -> None:
    found = assess(a, b)
    assert found.decisive and found.score < 0.5
    assert found.reason == "substitution"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("not more than four steps", "four steps"),
        ("no later than 1990", "1990"),
        ("no fewer than 20 people", "20 people"),
    ],
)
def test_a_bound_is_not_a_negation(a: str, b: str) -> None:
    assert not read(a).negative
    found = assess(a, b)
    assert found.reason != "polarity"
    assert found.score >= 0.5


def test_a_negated_comparison_is_still_a_negation() -> None:
    assert read("It is not more expensive.").negative
    assert assess("It is not more expensive.", "It is more expensive.").score < 0.5


@pytest.mark.parametrize("text", ["a no-fly zone", "the no-value indicator", "a no-hitter"])
def test_a_compound_with_no_is_not_a_negation(text: str) -> None:
    assert not read(text).negative


def test_no_one_is_still_a_negation() -> None:
    assert read("No-one came.").negative
    assert assess("No-one came.", "Everyone came.").score < 0.5


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Greg Norman", "Gregory Norman"),
        ("Pete Seeger", "Peter Seeger"),
        ("Ray Charles", "Raymond Charles"),
        ("Patty Smith", "Patricia Smith"),
    ],
)
def test_common_short_forms_of_given_names(a: str, b: str) -> None:
    found = assess(a, b)
    assert found.decisive and found.score >= 0.9


def test_casing_is_read() -> None:
    assert read("Kerala").name and read("Kerala").cased
    assert not read("kerala").name and not read("kerala").cased
    assert not read("1889").cased
    assert not read("the capital of Kerala").name


def test_a_repeated_word_is_not_a_swap_of_roles() -> None:
    found = assess("Paris, the city of Paris", "the city of Paris")
    assert found.decisive and found.score >= 0.5
    assert assess("Alice beat Bob.", "Bob beat Alice.").score < 0.5


@pytest.mark.parametrize(
    ("a", "b"), [("US", "United States"), ("WHO", "World Health Organization")]
)
def test_a_short_word_in_capitals_is_an_acronym_not_a_stop_word(a: str, b: str) -> None:
    found = assess(a, b)
    assert found.decisive and found.score >= 0.5


def test_words_in_capitals_throughout_are_still_read_as_words() -> None:
    assert read("THE BEATLES").words == read("The Beatles").words
    assert "us" not in read("Tell us the answer.").words


@pytest.mark.parametrize("text", ["Leonardo da Vinci", "Ludwig van Beethoven", "Charles de Gaulle"])
def test_a_lower_case_particle_does_not_stop_a_name_being_a_name(text: str) -> None:
    assert read(text).name
    assert assess(text, "Johann Sebastian Bach").embedding_weight < 0.5


def test_a_lower_case_word_that_is_no_particle_does_not_make_a_name() -> None:
    assert not read("Leonardo the painter").name
