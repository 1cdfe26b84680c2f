"""Building Sleeve's models: datasets, feature extraction, training, evaluation, retraining."""
