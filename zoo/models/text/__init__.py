"""Text: WordPiece and SentencePiece tokenizers that run inside graphs, pretraining objectives (masked LM,
ELECTRA, span corruption), fill-mask, greedy decoding, chunked sequence layers, ROUGE."""
