namespace medassist::tokenizer {}
