-- workorder 0.4 -> 0.5: a renamed unit's children follow it (install part 30).
ALTER TABLE workorder.units
    DROP CONSTRAINT units_parent_code_fkey,
    ADD CONSTRAINT units_parent_code_fkey FOREIGN KEY (parent_code)
        REFERENCES workorder.units (code) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED;
