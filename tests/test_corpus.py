import numpy as np
import pytest

from rnnviz.core.corpus import (
    _WORD_RE,
    BUILTINS,
    UNK,
    WORD_CHUNK,
    Corpus,
    Vocab,
    _find_words,
    detokenize,
    load_corpus,
    read_text,
    tokenize,
)
from rnnviz.core.errors import CorpusError, VocabError


def test_char_and_word_tokens():
    assert tokenize("ab c", "char") == ["a", "b", " ", "c"]
    assert tokenize("Hello, world! It's fine.", "word") == [
        "Hello",
        ",",
        "world",
        "!",
        "It's",
        "fine",
        ".",
    ]
    assert detokenize(["Hello", ",", "world", "!", "(", "yes", ")"], "word") == "Hello, world! (yes)"
    with pytest.raises(CorpusError, match="level"):
        tokenize("x", "byte")


def test_long_texts_are_split_into_words_a_chunk_at_a_time_with_the_same_tokens():
    """The word tokeniser goes a chunk at a time (so a reading thread lets the window breathe);
    a chunk ends at whitespace, so no token is cut: the same tokens as one regex pass."""
    rng = np.random.default_rng(3)
    alphabet = list("ab c'\u2019.\n\t-x\u00e9 ")
    for _ in range(200):
        text = "".join(rng.choice(alphabet, size=int(rng.integers(0, 300))))
        for chunk in (1, 3, 7, 50):
            assert _find_words(text, chunk) == _WORD_RE.findall(text), (text, chunk)
    long = "the keeper's ships, counted\n" * 20_000  # longer than one chunk
    assert len(long) > WORD_CHUNK and tokenize(long, "word") == _WORD_RE.findall(long)
    corpus = Corpus.from_text(long, "word", "long")  # tokenised once for vocabulary and ids
    assert corpus.vocab == Vocab.build(long, "word")
    assert np.array_equal(corpus.ids, corpus.vocab.encode(long))


def test_nfc_normalisation_and_newlines():
    decomposed = "cafe\u0301\r\n"
    assert tokenize(decomposed, "char") == list("caf\u00e9\n")
    v = Vocab.build("caf\u00e9", "char")
    assert v.encode(decomposed.strip()).tolist() == v.encode("caf\u00e9").tolist()


def test_vocab_unk_and_roundtrip():
    v = Vocab.build("hello world", "char")
    assert v.tokens[0] == UNK and len(v) == 1 + len(set("hello world"))
    ids = v.encode("hold \u2603")
    assert ids[-1] == 0 and (ids[:-1] > 0).all()
    assert v.decode(v.encode("hello")) == "hello"
    assert v.unknown(list("hi\u2603h")) == ["i", "\u2603"]
    with pytest.raises(VocabError, match="not in the vocabulary: 'i'"):
        v.require_known(list("hi"))
    with pytest.raises(CorpusError):
        Vocab(("a", UNK), "char")


def test_word_level_corpus_and_split():
    c = Corpus.from_text("the cat sat. the dog sat.", "word", "t")
    assert c.vocab.tokens == (UNK, ".", "cat", "dog", "sat", "the")
    assert c.ids.tolist() == [5, 2, 4, 1, 5, 3, 4, 1]
    train, val = c.split(0.25)
    assert len(train) == 6 and len(val) == 2 and np.array_equal(np.concatenate([train, val]), c.ids)
    assert len(c.split(0.0)[1]) == 0


@pytest.mark.parametrize(
    "content,msg",
    [
        (b"", "is empty"),
        (b"  \n\t ", "only whitespace"),
        (b"\x7fELF\x02\x01\x00\x00binary", "binary"),
        (b"caf\xe9 au lait", r"not UTF-8 text \(byte 0xe9 at offset 3\)"),
    ],
)
def test_unusable_files_give_one_line_errors(tmp_path, content, msg):
    p = tmp_path / "f.txt"
    p.write_bytes(content)
    with pytest.raises(CorpusError, match=msg) as err:
        read_text(p)
    assert "\n" not in str(err.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_text(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        read_text(tmp_path)
    with pytest.raises(CorpusError, match="no built-in corpus 'x'"):
        load_corpus("builtin:x")


def test_bom_is_dropped(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffhi".encode())
    assert read_text(p) == "hi"


def test_builtin_corpora():
    for name in BUILTINS:
        c = load_corpus(f"builtin:{name}")
        assert len(c.ids) > 100 and (c.ids > 0).all(), name
    story = load_corpus("builtin:story")
    assert 40_000 <= len(story.text.encode()) <= 70_000
    fable = load_corpus("builtin:fable", "word")
    words = [t for t in fable.vocab.decode(fable.ids).split() if any(ch.isalpha() for ch in t)]
    assert 200 <= len(words) <= 400
    assert {"welcome", "please", "namaskar", "hello", "home"} <= set(
        load_corpus("builtin:words").text.split()
    )
    depth = 0
    for ch in load_corpus("builtin:brackets").text:
        depth += (ch == "(") - (ch == ")")
        assert depth >= 0
    assert depth == 0


def test_word_level_text_is_joined_as_the_corpus_spells_it():
    from rnnviz.core.corpus import detokenize, tokenize

    text = 'He said, "Badger, come here." Then twenty-two ships\' masts (and "x"). "Why?" "Yes!"'
    assert detokenize(tokenize(text, "word"), "word") == text  # no " Badger, " inside the quotes
    fable = load_corpus("builtin:fable", "word")
    assert fable.vocab.decode(fable.ids) == " ".join(fable.text.split())  # the whole fable, as written
