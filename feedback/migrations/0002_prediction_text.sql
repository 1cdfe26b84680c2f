-- What the cover reads (models.reader), kept so retraining can refit the text model without the
-- image. NULL for predictions stored before covers were read: those still train, image-only.
ALTER TABLE predictions ADD COLUMN read_text TEXT;
