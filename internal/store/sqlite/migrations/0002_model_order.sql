-- Read a model's records in log order without sorting them.
CREATE INDEX records_model_idx ON records (model, idx);
