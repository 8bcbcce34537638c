"""Monthly scorecard workbooks: templates filled with openpyxl, formulas live, values
cached for previews."""
