"""Topic assignment with the topics of the built-in profile, and with a custom list."""

from __future__ import annotations

import pytest

from digest.config import ConfigError, TopicConfig, load_config
from digest.topics import assign_topics, compile_topics

COUNTRIES = {"kazakhstan", "kyrgyzstan", "tajikistan", "uzbekistan", "turkmenistan"}


@pytest.fixture(scope="module")
def matcher():
    return compile_topics(load_config(env={}).topics)


def countries_of(topics: dict[str, float]) -> set[str]:
    return set(topics) & COUNTRIES


# A solar plant in Uzbekistan; Kazakhstan comes up once, in passing, near the end.
SOLAR_TITLE = "Uzbekistan switches on its largest solar park"
SOLAR_TEXT = """\
Uzbekistan has connected a 500-megawatt solar park in the Samarkand region to the national grid,
the energy ministry said on Monday, calling it the biggest plant of its kind in the country.

The park was built by a Gulf developer under a 25-year power purchase agreement. It is expected
to produce about 1,100 gigawatt-hours of electricity a year, enough for several hundred thousand
homes, and to save natural gas now burnt in ageing thermal power stations.

Officials said the grid operator had upgraded two substations and a 220-kilovolt line so that the
output could reach Tashkent during the evening peak, when demand for electricity is highest.

Tenders for two more parks in the Bukhara and Navoi regions will open in the spring. The design
follows a project that opened last year in Kazakhstan, the ministry added."""

# Migrant workers and their money; energy words do not come up.
MIGRATION_TITLE = "Remittances to Tajikistan rise as more workers head to Russia"
MIGRATION_TEXT = """\
Money sent home by Tajik migrants grew by a tenth last year, the National Bank in Dushanbe said,
as the number of citizens leaving for seasonal work in Russia rose again after two slow years.

Most migrants work on building sites and in warehouses around Moscow. Rights groups say tighter
rules on work permits and more frequent deportations have pushed many into informal jobs."""

# A summit of all five; the region itself is never named.
SUMMIT_TITLE = "Leaders of five neighbours meet in Tashkent to discuss water sharing"
SUMMIT_TEXT = """\
President Shavkat Mirziyoyev welcomed Kassym-Jomart Tokayev, Sadyr Japarov, Emomali Rahmon and
Serdar Berdimuhamedov to Tashkent on Friday for two days of talks on water and trade.

The heads of state signed a declaration on sharing the flow of the rivers that cross their
borders. Kazakhstan and Uzbekistan agreed to build a joint reservoir, Kyrgyzstan and Tajikistan
promised to release more water from their dams in summer, and Turkmenistan offered to host the
next meeting in Ashgabat."""

NOTHING_TITLE = "Local bakery wins prize for its sourdough"
NOTHING_TEXT = """\
A family bakery in a small town won first prize at a regional fair on Saturday for a sourdough
loaf that its owners say takes three days to make.

The judges praised the crust and the even crumb. The owners plan to open a second shop next year."""


def test_country_named_in_the_title_is_assigned(matcher):
    topics = assign_topics(matcher, "Kyrgyzstan lifts ban on exports of hay", "")
    assert countries_of(topics) == {"kyrgyzstan"}


def test_title_mention_scores_higher_than_a_lead_mention(matcher):
    text = "The talks went on late into the night."
    in_title = assign_topics(matcher, "Tokayev opens talks", text)
    in_lead = assign_topics(
        matcher, "Talks open", "Tokayev opened the talks. " + text + " Tokayev closed them."
    )
    assert in_title["kazakhstan"] > in_lead["kazakhstan"] >= 0.5


@pytest.mark.parametrize(
    ("word", "country"),
    [
        ("Tokayev", "kazakhstan"),
        ("Almaty", "kazakhstan"),
        ("the Mazhilis", "kazakhstan"),
        ("Kyrgyz", "kyrgyzstan"),
        ("Osh", "kyrgyzstan"),
        ("Japarov", "kyrgyzstan"),
        ("the Jogorku Kenesh", "kyrgyzstan"),
        ("Dushanbe", "tajikistan"),
        ("Rahmon", "tajikistan"),
        ("the Rogun dam", "tajikistan"),
        ("Uzbeks", "uzbekistan"),
        ("Samarkand", "uzbekistan"),
        ("Mirziyoyev", "uzbekistan"),
        ("the Oliy Majlis", "uzbekistan"),
        ("Ashgabat", "turkmenistan"),
        ("Serdar Berdimuhamedov", "turkmenistan"),
        ("Turkmen", "turkmenistan"),
    ],
)
def test_demonym_city_leader_or_institution_identifies_the_country(matcher, word, country):
    topics = assign_topics(matcher, f"A statement from {word} on Monday", "")
    assert countries_of(topics) == {country}


def test_every_country_is_found_by_its_own_name(matcher):
    config = load_config(env={})
    for topic in config.topics:
        if topic.kind == "country":
            assert topic.key in assign_topics(matcher, f"News from {topic.label}", "")


def test_country_mentioned_once_in_passing_deep_in_the_body_is_not_assigned(matcher):
    topics = assign_topics(matcher, SOLAR_TITLE, SOLAR_TEXT)
    assert "uzbekistan" in topics
    assert "kazakhstan" not in topics


def test_repeated_mentions_in_the_body_add_up_to_a_country(matcher):
    lead = "A long report on trade came out on Tuesday. " * 10
    body = "\n\n".join(["Exporters in Almaty were busy."] * 3)
    assert "kazakhstan" in assign_topics(matcher, "Trade report", lead + "\n\n" + body)
    body_twice = "\n\n".join(["Exporters in Almaty were busy."] * 2)
    assert "kazakhstan" not in assign_topics(matcher, "Trade report", lead + "\n\n" + body_twice)


def test_energy_article_gets_energy_but_not_migration(matcher):
    topics = assign_topics(matcher, SOLAR_TITLE, SOLAR_TEXT)
    assert "energy" in topics
    assert "migration" not in topics


def test_migration_article_gets_migration_but_not_energy(matcher):
    topics = assign_topics(matcher, MIGRATION_TITLE, MIGRATION_TEXT)
    assert "migration" in topics
    assert "energy" not in topics
    assert countries_of(topics) == {"tajikistan"}


def test_subject_word_once_in_the_lead_is_not_enough(matcher):
    text = "Kazakhstan's health ministry said on Friday that the new road would open in May."
    topics = assign_topics(matcher, "New road to open in May", text)
    assert "health" not in topics
    assert "transport" in topics


def test_summit_of_several_countries_gets_the_region(matcher):
    topics = assign_topics(matcher, SUMMIT_TITLE, SUMMIT_TEXT)
    assert countries_of(topics) == COUNTRIES
    assert "central-asia" in topics


def test_region_named_in_the_title_is_assigned(matcher):
    topics = assign_topics(matcher, "Central Asian states agree on a visa for tourists", "")
    assert "central-asia" in topics


def test_region_named_only_in_the_body_is_not_assigned(matcher):
    text = (
        "Tajikistan will raise fees for mobile internet from March, the regulator said. " * 6
        + "\n\nThe head of the regulator told The Times of Central Asia the rise was modest."
        + "\n\nPrices in Central Asia are still low, he said, lower than anywhere in Central Asia."
    )
    topics = assign_topics(matcher, "Mobile internet to cost more", text)
    assert "tajikistan" in topics
    assert "central-asia" not in topics


def test_two_countries_do_not_make_a_region(matcher):
    text = "Kazakhstan and Uzbekistan signed a deal on a joint industrial zone on the border."
    topics = assign_topics(matcher, "Astana and Tashkent sign border zone deal", text)
    assert countries_of(topics) == {"kazakhstan", "uzbekistan"}
    assert "central-asia" not in topics


@pytest.mark.parametrize(
    "title",
    [
        "Oshkosh trucks sold at auction",
        "A goshawk nests on the roof of the station",
        "Joshua and the Kosh brothers",
    ],
)
def test_keywords_match_whole_words_only(matcher, title):
    assert "kyrgyzstan" not in assign_topics(matcher, title, "")


@pytest.mark.parametrize(
    "title",
    ["Kazakhstan's wheat harvest", "Kazakhs abroad vote early", "A Kazakhstani firm expands"],
)
def test_prefix_keyword_matches_longer_words_and_possessives(matcher, title):
    assert countries_of(assign_topics(matcher, title, "")) == {"kazakhstan"}


@pytest.mark.parametrize("title", ["ALMATY braces for snow", "almaty braces for snow"])
def test_matching_ignores_case(matcher, title):
    assert countries_of(assign_topics(matcher, title, "")) == {"kazakhstan"}


def test_hyphen_and_space_in_a_phrase_are_interchangeable(matcher):
    assert "kyrgyzstan" in assign_topics(matcher, "Tourists flock to Issyk Kul", "")
    assert "kyrgyzstan" in assign_topics(matcher, "Tourists flock to Issyk-Kul", "")


def test_weak_keyword_alone_assigns_nothing(matcher):
    text = "The manat held steady against the dollar in Baku on Tuesday, the central bank said."
    assert "turkmenistan" not in assign_topics(matcher, "Manat steady", text)


def test_weak_keyword_adds_to_a_country_already_named(matcher):
    title = "Turkmenistan sets new rules for currency exchange"
    text = "Banks in Ashgabat will sell the manat at the official rate only."
    plain = assign_topics(
        matcher, title, "Banks in Ashgabat will sell it at the official rate only."
    )
    with_manat = assign_topics(matcher, title, text)
    assert with_manat["turkmenistan"] > plain["turkmenistan"]


def test_weak_keyword_counts_less_than_an_ordinary_one(matcher):
    title = "Turkmenistan sets new rules for currency exchange"
    weak = assign_topics(matcher, title, "Banks will sell the manat at the official rate.")
    strong = assign_topics(matcher, title, "Banks will sell Turkmen money at the official rate.")
    assert weak["turkmenistan"] < strong["turkmenistan"]


def test_full_name_counts_once_not_once_per_name_inside_it(matcher):
    full = assign_topics(matcher, "Kassym-Jomart Tokayev visits a farm", "")
    short = assign_topics(matcher, "Tokayev visits a farm", "")
    assert full["kazakhstan"] == short["kazakhstan"]


def test_longer_phrase_keeps_its_words_from_counting_for_another_subject(matcher):
    topics = assign_topics(matcher, "Greenhouse gas output fell last year", "")
    assert "climate" in topics
    assert "energy" not in topics


def test_place_inside_a_longer_phrase_still_counts(matcher):
    topics = assign_topics(matcher, "Air Astana adds flights to Seoul", "")
    assert "transport" in topics
    assert "kazakhstan" in topics


def test_article_about_nothing_relevant_gets_no_topics(matcher):
    assert assign_topics(matcher, NOTHING_TITLE, NOTHING_TEXT) == {}
    assert assign_topics(matcher, "", "") == {}


def test_scores_lie_between_one_half_and_one_and_come_best_first(matcher):
    topics = assign_topics(matcher, SUMMIT_TITLE, SUMMIT_TEXT)
    scores = list(topics.values())
    assert all(0.5 <= score < 1 for score in scores)
    assert scores == sorted(scores, reverse=True)


def test_custom_topic_list_works_with_the_same_engine():
    topics = [
        TopicConfig("chess", "Chess", "subject", ("chess", "grandmaster*", "?opening")),
        TopicConfig("mongolia", "Mongolia", "country", ("Mongolia*", "Ulaanbaatar")),
        TopicConfig("japan", "Japan", "country", ("Japan*", "Tokyo")),
        TopicConfig("china", "China", "country", ("China", "Chinese", "Beijing")),
        TopicConfig("east-asia", "East Asia", "region", ("East Asia*", "@mongolia", "@japan")),
    ]
    matcher = compile_topics(topics)
    result = assign_topics(
        matcher,
        "Grandmasters gather in Ulaanbaatar for a chess festival",
        "Players from Japan, China and Mongolia sat down for the opening round on Sunday.",
    )
    # Japan and China are named once, in passing: the story is about Mongolia.
    assert set(result) == {"chess", "mongolia"}
    assert "kazakhstan" not in result
    assert assign_topics(matcher, "Kazakhstan's chess champion", "") == {"chess": 0.5}


def test_country_named_once_in_the_lead_is_a_passing_mention():
    topics = load_config(env={}).topics
    result = assign_topics(
        compile_topics(topics),
        "Turkmenistan opens a new motorway section",
        "Turkmenistan has opened a new section of the Ashgabat-Turkmenabat motorway, which will "
        "eventually reach the eastern border with Uzbekistan.\n\nThe road has four lanes.",
    )
    assert "turkmenistan" in result
    assert "uzbekistan" not in result


def test_custom_region_follows_its_members_only():
    topics = [
        TopicConfig("a", "A", "country", ("Aland",)),
        TopicConfig("b", "B", "country", ("Bland",)),
        TopicConfig("c", "C", "country", ("Cland",)),
        TopicConfig("d", "D", "country", ("Dland",)),
        TopicConfig("abc", "ABC", "region", ("ABC region", "@a", "@b", "@c")),
    ]
    matcher = compile_topics(topics)
    assert "abc" in assign_topics(matcher, "Aland, Bland and Cland meet", "")
    assert "abc" not in assign_topics(matcher, "Aland, Bland and Dland meet", "")


@pytest.mark.parametrize(
    "keywords",
    [("Kaz*stan",), ("?",), ("?weak only",), ("@nowhere",)],
)
def test_unusable_keywords_are_reported_as_config_errors(keywords):
    kind = "region" if keywords[0].startswith("@") else "subject"
    with pytest.raises(ConfigError):
        compile_topics([TopicConfig("bad", "Bad", kind, keywords)])
