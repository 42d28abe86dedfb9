"""Hand-written teaching examples: paraphrase topics for a similarity matrix, a rerank query."""

from __future__ import annotations

# Groups of near-paraphrases, so a similarity matrix shows one bright block per topic (and
# brighter pairs inside it). The first three sentences come from the project's seed.
_TEACHING: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "animals",
        (
            "The cat sits on the mat",
            "A feline rests on the rug",
            "A kitten is napping on the carpet",
            "The dog sleeps by the fireplace",
            "A puppy is lying next to the fire",
            "Horses are grazing in the field",
        ),
    ),
    (
        "programming",
        (
            "Python programming language",
            "Python is a popular language for writing software",
            "Writing code in Python is easy to learn",
            "The program crashed because of a bug in the loop",
            "A defect in the loop made the application fail",
            "Run the unit tests before you merge the branch",
        ),
    ),
    (
        "cooking",
        (
            "Chop the onions and fry them in olive oil",
            "Slice an onion and cook it gently in a little oil",
            "Bake the bread in a hot oven for forty minutes",
            "Put the loaf in the oven and bake it for about forty minutes",
            "This soup needs more salt and pepper",
            "Season the soup with a bit more salt and pepper",
        ),
    ),
    (
        "sport",
        (
            "The striker scored a goal in the final minute",
            "A last-minute goal won the football match",
            "She ran the marathon in under three hours",
            "The runner finished the long-distance race in less than three hours",
            "The tennis player served an ace to win the set",
            "He took the set with a serve his opponent could not return",
        ),
    ),
    (
        "weather",
        (
            "It is raining heavily this morning",
            "There is a downpour outside today",
            "Tomorrow will be sunny and warm",
            "The forecast promises clear skies and high temperatures tomorrow",
            "A strong wind knocked down trees during the storm",
            "The gale blew over several trees last night",
        ),
    ),
    (
        "space",
        (
            "The astronauts landed on the Moon",
            "Humans walked on the lunar surface",
            "Mars is known as the red planet",
            "The fourth planet from the Sun looks red",
            "The telescope photographed a distant galaxy",
            "A space telescope captured an image of a faraway galaxy",
        ),
    ),
    (
        "music",
        (
            "She plays the piano every evening",
            "Every night she practises on her piano",
            "The orchestra performed a symphony by Beethoven",
            "A Beethoven symphony was played by the orchestra",
            "He is learning to play the guitar",
            "He takes guitar lessons every week",
        ),
    ),
)


def teaching_topics() -> list[tuple[str, str]]:
    """The teaching set with labels, grouped by topic.

    Seven topics (animals, programming, cooking, sport, weather, space, music) of six
    sentences each, written in pairs of near-paraphrases. It starts with the seed sentences
    "The cat sits on the mat", "A feline rests on the rug" and, first in programming,
    "Python programming language".

    Returns:
        A new list of ``(sentence, topic)`` pairs, in topic order.
    """
    return [(sentence, topic) for topic, sentences in _TEACHING for sentence in sentences]


def teaching_sentences() -> list[str]:
    """The sentences of :func:`teaching_topics`, without labels, in the same order.

    Returns:
        A new list of 42 sentences.
    """
    return [sentence for sentence, _ in teaching_topics()]


# --------------------------------------------------------------------------- rerank example


def panda_example() -> tuple[str, list[str]]:
    """The rerank teaching example: a query and four documents.

    The documents are a greeting, a short answer, an encyclopaedic answer, and a restatement
    of the question that shares the most words with the query but answers nothing, so the
    example shows a reranker judging relevance rather than word overlap.

    Returns:
        ``(query, documents)``, with a new list of documents on every call.
    """
    query = "What is a panda?"
    documents = [
        "hi",
        "it's a bear",
        "The giant panda (Ailuropoda melanoleuca), sometimes called a panda bear or simply "
        "panda, is a bear species endemic to China.",
        "what is panda?",
    ]
    return query, documents
