-- 0015_people_attributes.sql - the optional parts of a person record: city
-- codes under the prefecture regions, and free attributes.
--
-- attributes is a flat JSON object of strings ({"職種": "技術", "内線": "1234"}),
-- imported from the CSV's attributes column and shown and exported with
-- the person.  Cities are JIS X 0402 municipality codes, stored as the
-- 5-digit form (the 6-digit form's check digit is dropped on import); the
-- prefecture of a city is also one of the person's regions.
ALTER TABLE people ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'
    CHECK (jsonb_typeof(attributes) = 'object');

CREATE TABLE person_cities (
    person_id  text NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    city       int  NOT NULL CHECK (city BETWEEN 1000 AND 47999),
    PRIMARY KEY (person_id, city)
);
CREATE INDEX person_cities_city ON person_cities (city);
