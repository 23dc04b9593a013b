"""The only room that imports torch, transformers and peft: base model, tables, runtime."""
