import pytest

from digest.summarize import (
    ABBREVIATIONS,
    AMBIGUOUS_ABBREVIATIONS,
    MAX_SUMMARY_CHARS,
    split_sentences,
    summarize,
)

RATE_TITLE = "Kazakhstan's central bank raises base rate to 16.5 percent"
RATE_LEAD = (
    "The Natl. Bank of Kazakhstan raised its base rate to 16.5 percent on Friday, pointing to "
    "inflation that has stayed high all autumn."
)
RATE_SECOND = "A spokesman, K. Nurpeisov, said the bank was ready to tighten again if prices rose."
RATE_THIRD = (
    "Annual inflation reached 12.6 percent in October, more than twice the 5 percent target."
)
RATE_ARTICLE = f"""Kazakhstan's central bank raises base rate to 16.5 percent

Photo: press service of the National Bank

ASTANA, Nov. 24 (Kazinform) – {RATE_LEAD} {RATE_SECOND}

Read also: Tenge slips past 520 per U.S. dollar

{RATE_THIRD} Fuel and utility tariffs rose faster than any other item in the basket.

By Aigerim Nurlanova

The next decision on the base rate is due in the middle of January."""

RAIL_TITLE = "Uzbekistan and Kyrgyzstan sign deal on China railway"
RAIL_SENTENCES = [
    "Uzbekistan, Kyrgyzstan and China agreed on Thursday to start building a railway linking "
    "Kashgar with Andijan, a project discussed for more than two decades.",
    "The line will run about 523 km, most of it through the mountains of southern Kyrgyzstan.",
    "Dr. Sh. Karimov, who led the feasibility study, put its cost at $4.7 billion.",
    "Freight trains are expected to run from 2030.",
]
RAIL_ARTICLE = (
    f"{RAIL_SENTENCES[0]} {RAIL_SENTENCES[1]}\n\n{RAIL_SENTENCES[2]}\n\n{RAIL_SENTENCES[3]}"
)


def lead_article(furniture: str) -> str:
    return f"{RAIL_SENTENCES[0]}\n\n{furniture}\n\n{RAIL_SENTENCES[1]} {RAIL_SENTENCES[2]}"


def test_summary_is_the_first_three_sentences_in_article_order():
    assert summarize(RAIL_TITLE, RAIL_ARTICLE) == " ".join(RAIL_SENTENCES[:3])


def test_summary_skips_headline_caption_dateline_read_also_and_byline():
    assert summarize(RATE_TITLE, RATE_ARTICLE) == f"{RATE_LEAD} {RATE_SECOND} {RATE_THIRD}"


@pytest.mark.parametrize(
    "headline",
    [
        "Uzbekistan and Kyrgyzstan sign deal on China railway",
        "Uzbekistan and Kyrgyzstan sign deal on China railway.",
        "UZBEKISTAN AND KYRGYZSTAN SIGN DEAL ON CHINA RAILWAY.",
        "Kyrgyzstan and Uzbekistan sign railway deal with China.",
        "Uzbekistan and Kyrgyzstan sign deal on China railway, officials say.",
    ],
)
def test_headline_repeated_as_first_paragraph_is_skipped(headline):
    text = f"{headline}\n\n{RAIL_ARTICLE}"
    assert summarize(RAIL_TITLE, text) == " ".join(RAIL_SENTENCES[:3])


def test_headline_glued_to_the_first_paragraph_is_cut_off():
    text = f"{RAIL_TITLE} {RAIL_ARTICLE}"
    assert summarize(RAIL_TITLE, text) == " ".join(RAIL_SENTENCES[:3])


def test_headline_repeated_as_a_sentence_of_its_own_is_skipped():
    title = "Tajikistan opens third Rogun turbine"
    text = (
        "Tajikistan opens third Rogun turbine. "
        "The hydropower plant on the Vakhsh river is meant to end winter power cuts."
    )
    assert summarize(title, text) == (
        "The hydropower plant on the Vakhsh river is meant to end winter power cuts."
    )


def test_lead_that_opens_with_the_headline_and_says_more_is_kept():
    title = "Uzbekistan bans coal imports"
    text = (
        "Uzbekistan bans coal imports from Kazakhstan for three months starting December, the "
        "energy ministry said on Tuesday. The move aims to support local mines. Traders said "
        "prices may rise."
    )
    assert summarize(title, text).startswith("Uzbekistan bans coal imports from Kazakhstan")


def test_lead_containing_the_headline_mid_sentence_is_kept():
    title = "Kazakhstan raises base rate to 17%"
    text = (
        "The National Bank announced on Friday that Kazakhstan raises base rate to 17% from "
        "Monday, citing faster inflation. Economists had expected a smaller move."
    )
    assert summarize(title, text).startswith("The National Bank announced on Friday")


def test_lead_that_shares_a_few_words_with_the_headline_is_kept():
    title = "Tenge weakens"
    text = "The tenge weakened past 520 per dollar on Tuesday as oil prices fell."
    assert summarize(title, text) == text


@pytest.mark.parametrize(
    "furniture",
    [
        "Photo: Kabar news agency",
        "Photo: President S. Japarov and Chinese officials at the ceremony in Bishkek.",
        "Photo by Timur Ismailov",
        "President S. Japarov at the ceremony in Bishkek (Photo: press service).",
        "Image: Ministry of Transport of Uzbekistan",
        "Credit: Getty Images",
        "Workers lay track near Osh on Thursday, April 4, 2024. REUTERS/Vladimir Pirogov",
        "Workers lay track near Osh in the south of the country. Vladimir Pirogov / AP",
        "Read also: Kyrgyzstan to build new airport in Issyk-Kul region",
        "Read more: What the railway means for Central Asian trade with Europe.",
        "Related: China and Kyrgyzstan sign transit agreement for freight trucks",
        "Subscribe to our Telegram channel for the latest news from the region.",
        "Follow us on Telegram and Instagram to get the news first every day.",
        "By Nurlan Abdyldaev",
        "By Dilnoza Karimova and Timur Ismailov, Tashkent bureau.",
        "Author: Dilnoza Karimova",
        "- The railway will carry up to 15 million tonnes of freight a year.",
        "* Passenger trains may follow once the freight line is finished.",
        "• The project is financed by loans from China and by the three governments.",
        "1. The first stage covers the section from Kashgar to the Torugart pass.",
    ],
)
def test_page_furniture_never_reaches_the_summary(furniture):
    summary = summarize(RAIL_TITLE, lead_article(furniture))
    assert summary == " ".join(RAIL_SENTENCES[:3])


def test_bullet_lines_inside_a_paragraph_are_left_out():
    text = (
        f"{RAIL_SENTENCES[0]}\n"
        "- The line will cost less than the first estimate of six billion dollars.\n"
        "- The line will cross three passes higher than 3,000 metres.\n"
        f"{RAIL_SENTENCES[1]}"
    )
    assert summarize(RAIL_TITLE, text) == f"{RAIL_SENTENCES[0]} {RAIL_SENTENCES[1]}"


def test_caption_inside_a_long_paragraph_is_left_out_but_the_paragraph_is_used():
    caption = "Officials shake hands after the signing ceremony in Bishkek (Photo: Kabar)."
    text = f"{RAIL_SENTENCES[0]} {caption} {RAIL_SENTENCES[1]}\n\n{RAIL_SENTENCES[2]}"
    assert summarize(RAIL_TITLE, text) == " ".join(RAIL_SENTENCES[:3])


@pytest.mark.parametrize(
    "dateline",
    [
        "ASTANA, Nov. 24 (Kazinform) – ",
        "BISHKEK — ",
        "TASHKENT, Uzbekistan (AP) — ",
        "ALMATY (Reuters) - ",
        "DUSHANBE, 24 November 2025 /Asia-Plus/ – ",
        "ASTANA. KAZINFORM – ",
        "Astana (Kazinform) – ",
    ],
)
def test_dateline_is_stripped_from_the_first_sentence(dateline):
    text = f"{dateline}{RAIL_SENTENCES[0]} {RAIL_SENTENCES[1]}"
    assert summarize(RAIL_TITLE, text) == f"{RAIL_SENTENCES[0]} {RAIL_SENTENCES[1]}"


def test_capitalised_word_and_dash_without_a_new_sentence_is_not_a_dateline():
    text = "KEGOC – the national grid operator – said on Monday that exports to Uzbekistan doubled."
    assert summarize("Power exports double", text) == text


@pytest.mark.parametrize(
    "sentence",
    [
        "The Natl. Bank of Kazakhstan raised the base rate to 16.5 percent.",
        "The Dept. of Energy in Washington sent a delegation.",
        "Gov. Ivanov of the region met the investors.",
        "Talks with U.S. Secretary of State Antony Blinken ended late.",
        "He met the U.S. Ambassador in Astana on Monday.",
        "The U.K. Foreign Office issued a travel warning.",
        "The deal is worth $1.2 billion over ten years.",
        "Dr. Aliyev and Prof. Karimov signed the letter.",
        "Mr. Rahmon and Mrs. Rahmonova arrived with Ms. Sultanova.",
        "Gen. Saparov briefed Sen. Collins and Rep. Wilson.",
        "Kazakhstan Temir Zholy and Wabtec Corp. Executives met on Tuesday.",
        "Kaspi Inc. Shareholders approved the dividend.",
        "Air Astana Ltd. Pilots flew the new route.",
        "KazMunayGas Co. Engineers inspected the pipeline.",
        "The law comes into force on Jan. 1 next year.",
        "Talks resume on Sept. 15 in Tashkent.",
        "The plant on St. Petersburg Avenue reopened.",
        "President K. Tokayev signed the decree.",
        "President Sh. Mirziyoyev opened the forum.",
        "Minister Zh. Beishenaliev answered questions.",
        "Order No. 5 was cancelled by the court.",
    ],
)
def test_abbreviations_and_initials_do_not_cut_a_sentence(sentence):
    text = f"{sentence} The next item followed."
    assert split_sentences(text) == [sentence, "The next item followed."]


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "He studied in the U.S. He returned in 2019.",
            ["He studied in the U.S.", "He returned in 2019."],
        ),
        (
            "The contract went to Kaspi Bank Co. It was signed on Monday.",
            ["The contract went to Kaspi Bank Co.", "It was signed on Monday."],
        ),
        (
            "A. Smailov said so. B. Sagintayev agreed.",
            ["A. Smailov said so.", "B. Sagintayev agreed."],
        ),
        (
            "The budget was approved in 2024. Sh. Mirziyoyev signed it.",
            ["The budget was approved in 2024.", "Sh. Mirziyoyev signed it."],
        ),
    ],
)
def test_sentences_still_end_before_a_new_sentence(text, expected):
    assert split_sentences(text) == expected


def test_abbreviation_lists_hold_the_region_s_usual_cases():
    for abbreviation in ("Natl.", "Gov.", "Dept.", "St.", "Dr.", "Jan.", "Dec.", "Sh.", "Zh."):
        assert abbreviation in ABBREVIATIONS
    for abbreviation in ("U.S.", "U.K.", "Corp.", "Inc.", "Ltd.", "Co.", "No."):
        assert abbreviation in AMBIGUOUS_ABBREVIATIONS


def test_split_sentences_goes_paragraph_by_paragraph():
    text = "Heading without a stop\n\nFirst sentence here. Second one.\n\n\n  Last   one. "
    assert split_sentences(text) == [
        "Heading without a stop",
        "First sentence here.",
        "Second one.",
        "Last one.",
    ]


@pytest.mark.parametrize(
    "title, text",
    [(RATE_TITLE, RATE_ARTICLE), (RAIL_TITLE, RAIL_ARTICLE), (RAIL_TITLE, lead_article("x"))],
)
def test_every_summary_sentence_occurs_verbatim_in_the_article(title, text):
    summary = summarize(title, text)
    sentences = split_sentences(summary)
    assert 2 <= len(sentences) <= 3
    for sentence in sentences:
        assert sentence in text


@pytest.mark.parametrize("max_sentences, expected", [(0, 0), (1, 1), (2, 2), (3, 3), (10, 4)])
def test_summary_has_at_most_max_sentences(max_sentences, expected):
    text = " ".join(RAIL_SENTENCES)
    summary = summarize(RAIL_TITLE, text, max_sentences=max_sentences)
    assert summary == " ".join(RAIL_SENTENCES[:expected])


def test_long_lead_sentences_give_a_shorter_summary():
    long_one = (
        "Turkmenistan's parliament approved a budget for next year that raises spending on "
        "schools, hospitals and roads by about a fifth while keeping the deficit low, the "
        "state news agency reported on Saturday after the session in Ashgabat had ended."
    )
    long_two = (
        "Lawmakers also agreed to raise public sector wages, pensions and student grants by ten "
        "percent from the first of January, a step the government has taken every year for "
        "more than a decade despite the pressure that gas prices put on revenue."
    )
    summary = summarize("Turkmen budget", f"{long_one} {long_two} Officials gave no other detail.")
    assert summary == long_one
    assert len(summary) <= MAX_SUMMARY_CHARS


def test_near_duplicate_sentence_is_skipped():
    text = (
        f"{RAIL_SENTENCES[0]}\n\n"
        "Uzbekistan, Kyrgyzstan and China agreed on Thursday to start building the railway "
        "linking Kashgar with Andijan, a project discussed for over two decades.\n\n"
        f"{RAIL_SENTENCES[1]}"
    )
    assert summarize(RAIL_TITLE, text) == f"{RAIL_SENTENCES[0]} {RAIL_SENTENCES[1]}"


@pytest.mark.parametrize(
    "junk",
    [
        "Updated 14:30",
        "President Tokayev at the opening of the new terminal in Aktau",
        "and then the talks went on for hours before they stopped.",
        "The minister promised to publish the full list of projects soon...",
        "Too short to say much.",
        " ".join(["Tax on oil"] * 22) + ".",
    ],
)
def test_fragments_teasers_and_overlong_sentences_are_skipped(junk):
    text = f"{junk}\n\n{RAIL_SENTENCES[1]}"
    assert summarize(RAIL_TITLE, text) == RAIL_SENTENCES[1]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  ",
        "Photo: Reuters",
        "- first item of the list is here.\n- second item of the list is here.",
        "Read more",
        "lorem ipsum dolor sit amet",
        "!!! ??? ...",
        "<div></div>",
    ],
)
def test_text_without_a_usable_sentence_gives_an_empty_summary(text):
    assert summarize("Any title", text) == ""


def test_one_sentence_article_gives_that_sentence():
    text = "Kyrgyzstan's parliament elected a new speaker on Wednesday by 68 votes to 3."
    assert summarize("New speaker in Bishkek", f"  {text}\n") == text


def test_quoted_sentence_ending_in_a_closing_quote_is_kept():
    text = (
        '"We will finish the railway before the end of the decade," the minister told reporters.'
        ' "Trains will run from Kashgar to Andijan in under a day."'
    )
    assert summarize(RAIL_TITLE, text) == text


def test_text_beyond_the_scanned_lead_is_not_used():
    filler = "\n\n".join(["Photo: archive picture of the port of Aktau"] * 100)
    assert summarize("Port news", f"{filler}\n\n{RAIL_SENTENCES[1]}") == ""


def test_cut_sentence_at_the_end_of_the_scanned_lead_is_dropped():
    words = " ".join(f"w{i}" for i in range(700))
    text = f"{RAIL_SENTENCES[1]} Some more words follow here: {words} and it ends."
    assert summarize(RAIL_TITLE, text) == RAIL_SENTENCES[1]
